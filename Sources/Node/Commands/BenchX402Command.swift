import Crypto
import Foundation
import Inference
import Ledger
import Payments
import Synchronization

/// `tributary bench x402`: what payment adds to a request, on single-validator node processes
/// of this executable serving the default model (issue 22's goals checked).
enum BenchX402Command {
    static let spec = CommandSpec(
        path: ["bench", "x402"],
        summary: "Measure x402: verify and settle latency, and paid against unpaid inference throughput.",
        discussion: """
        Starts a node at a price (commit mode), one in pending mode and one without a price,
        each a fresh one-validator chain with a funded payer. Cheap routes: the
        facilitator's POST /x402/verify against the unpaid GET /x402/supported (the latency
        verification adds), the verifier's own time in this process, and POST /x402/settle in
        both modes against the block interval (each settle starting at a random point of the
        interval, as independent clients do). Inference: --rounds rounds in which the three
        modes take turns, each turn --clients clients, a thread each, sending greedy
        completions one after another, paid (upto, signed by the client for each request) or
        unpaid, their max_tokens drawn from --max-tokens/2 to 3/2 of it (seeded per client, so
        every mode gets the same lengths; with one length the batch runs in lockstep waves); requests/s and tokens/s of the completions finished within
        --window-ms after --warmup-ms (the clients' start and their last requests are not
        counted). The ratios compare the nodes' capacity, so the default 96 clients keep every
        node saturated: a batch holds 32 sequences, and in commit mode a client's request
        ends only after the block holding its settlement, so at the default 500 ms blocks
        48 clients leave the batch partly empty between commits (paid/unpaid 0.88x). With
        few clients the ratios measure how long each client waits, not capacity. Clients
        connect from 127.0.0.2, 127.0.0.3, ... (32 to an address) because the node admits
        64 connections per address.
        """,
        options: [
            .init(name: "requests", value: "N", help: "Facilitator requests per measurement (default 200)."),
            .init(name: "clients", value: "N", help: "Concurrent inference clients (default 96)."),
            .init(name: "window-ms", value: "MS", help: "Completions are counted over this long in each turn (default 8000)."),
            .init(name: "warmup-ms", value: "MS", help: "Each turn's clients run this long before counting starts (default 1000)."),
            .init(name: "rounds", value: "N", help: "Rounds of inference, the modes taking turns in each (default 8)."),
            .init(name: "max-tokens", value: "N", help: "Mean max_tokens of the completions (default 16)."),
            .init(name: "block-interval-ms", value: "MS", help: "The nodes' block interval (default 500, the node's default)."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { arguments in
        let requests = try arguments.integer("requests", default: 200, in: 10...100_000)
        let clients = try arguments.integer("clients", default: 96, in: 1...192)  // 192: the node's inference connections
        let window = Double(try arguments.integer("window-ms", default: 8_000, in: 100...600_000)) / 1000
        let warmup = Double(try arguments.integer("warmup-ms", default: 1_000, in: 0...600_000)) / 1000
        let rounds = try arguments.integer("rounds", default: 8, in: 1...100)
        let maxTokens = try arguments.integer("max-tokens", default: 16, in: 1...512)
        let blockIntervalMs = try arguments.integer("block-interval-ms", default: 500, in: 1...60_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-x402-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let price: UInt64 = 1_000
        var figures: [String: Any] = ["block_interval_ms": blockIntervalMs, "price_per_token": price, "clients": clients, "max_tokens": maxTokens, "rounds": rounds, "window_ms": Int(window * 1000)]

        figures["verifier_in_process_p50_us"] = inProcessVerifyMicroseconds(count: requests)
        // All three nodes run from the start; only the one being measured has work.
        let modes = ["commit", "pending", "unpaid"]
        var nodes: [String: BenchNode] = [:]
        defer { for node in nodes.values { node.stop() } }
        for mode in modes {
            nodes[mode] = try BenchNode(directory: directory + "/" + mode, price: mode == "unpaid" ? 0 : price,
                                        settlement: mode == "unpaid" ? "commit" : mode, blockIntervalMs: blockIntervalMs)
        }
        for mode in ["commit", "pending"] {
            let node = nodes[mode]!
            if mode == "commit" {
                figures["supported_p50_ms"] = try percentile(latencies(requests) { _ in try node.get("/x402/supported") }, 0.5)
                figures["verify_p50_ms"] = try percentile(latencies(requests) { _ in try node.facilitator("verify") }, 0.5)
            }
            // Requests arrive at random points of the block interval, not just after a commit
            // (one after another, each settle would wait out the whole pause after the last).
            var random = SplitMix64(seed: 7)
            let settles = try latencies(max(10, requests / 10), before: { _ in
                Thread.sleep(forTimeInterval: Double(random.next() % UInt64(blockIntervalMs)) / 1000)
            }) { _ in try node.facilitator("settle") }
            figures["settle_\(mode)_p50_ms"] = percentile(settles, 0.5)
            figures["settle_\(mode)_p99_ms"] = percentile(settles, 0.99)
        }
        // Inference in rounds, the modes taking turns (in a rotating order), so that drift in
        // the machine's speed over the run weighs on every mode alike.
        var totals: [String: (requests: Int, tokens: Int, seconds: Double)] = [:], perRound: [String: [Double]] = [:]
        for round in 0..<rounds {
            for turn in 0..<modes.count {
                let mode = modes[(round + turn) % modes.count]
                let measured = try nodes[mode]!.inference(clients: clients, window: window, warmup: warmup, maxTokens: maxTokens, paid: mode != "unpaid")
                let total = totals[mode] ?? (0, 0, 0)
                totals[mode] = (total.requests + measured.requests, total.tokens + measured.tokens, total.seconds + measured.seconds)
                perRound[mode, default: []].append(Double(measured.requests) / measured.seconds)
            }
        }
        for (mode, total) in totals {
            guard total.requests > 0 else { throw CommandError("no \(mode) completion finished within a measuring window; lengthen --window-ms") }
            figures[mode == "unpaid" ? "unpaid" : "paid_\(mode)"] = [
                "requests_per_s": Double(total.requests) / total.seconds, "tokens_per_s": Double(total.tokens) / total.seconds, "seconds": total.seconds,
                "requests_per_s_by_round": perRound[mode]!,
            ]
        }

        let unpaid = (figures["unpaid"] as! [String: Any])["requests_per_s"] as! Double
        let verifyAdded = (figures["verify_p50_ms"] as! Double) - (figures["supported_p50_ms"] as! Double)
        figures["verify_added_p50_ms"] = verifyAdded
        var goals: [String: Bool] = [
            "verify_at_most_1ms_p50": verifyAdded <= 1,
            "settle_commit_within_one_block_interval": (figures["settle_commit_p50_ms"] as! Double) <= Double(blockIntervalMs),
        ]
        for mode in ["commit", "pending"] {
            let paid = (figures["paid_\(mode)"] as! [String: Any])["requests_per_s"] as! Double
            figures["paid_\(mode)_over_unpaid"] = paid / unpaid
            // Each round's modes ran back to back: their ratio is free of the machine's slower drift.
            let ratios = zip(perRound[mode]!, perRound["unpaid"]!).map { $0 / $1 }
            figures["paid_\(mode)_over_unpaid_round_median"] = percentile(ratios, 0.5)
            goals["paid_\(mode)_throughput_at_least_0.95x"] = paid / unpaid >= 0.95
        }
        figures["goals"] = goals
        if arguments.flag("json") {
            try Output.json(figures, pretty: false)
        } else {
            for key in figures.keys.sorted() { print("\(key): \(figures[key]!)") }
        }
    }

    /// The verifier's time for one valid payment (rules 1–6, Ed25519 included), in this process.
    static func inProcessVerifyMicroseconds(count: Int) -> Double {
        let payer = SigningKey(), payee = SigningKey().publicKey
        let offer = PaymentRequirements(scheme: .exact, chainID: "bench", amount: 1_000, payTo: payee, maxTimeoutSeconds: 60, resource: "http://bench/v1/completions")
        let now = UInt64(Date().timeIntervalSince1970)
        let payments = (0..<count).map { _ in PaymentPayload(paying: offer, with: payer, now: now)! }
        let times = payments.map { payment in
            let start = DispatchTime.now().uptimeNanoseconds
            let verdict = PaymentVerifier.verify(payment, offers: [offer], now: now, reservations: PaymentReservations()) { _, _ in
                PayerStanding(balance: 1_000_000, nonceSettled: false)
            }
            precondition(verdict == .valid(offer: offer), "a bench payment did not verify: \(verdict)")
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3
        }
        return percentile(times, 0.5)
    }

    /// Milliseconds of each of `count` calls of `body`, one after another (`before` runs
    /// untimed ahead of each).
    static func latencies(_ count: Int, before: (Int) -> Void = { _ in }, _ body: (Int) throws -> Void) throws -> [Double] {
        try (0..<count).map { index in
            before(index)
            let start = DispatchTime.now().uptimeNanoseconds
            try body(index)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double { BenchLoraCommand.percentile(values, fraction) }
}

/// One single-validator node process serving the default model, with a funded payer.
private final class BenchNode: @unchecked Sendable {  // `session` is used from the caller's thread only
    let url: String
    let payer = SigningKey()
    let payee: Address
    let chainID = "bench-x402"
    private let process = Process()
    private let session: HTTPClient.Session

    init(directory: String, price: UInt64, settlement: String, blockIntervalMs: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let validator = try Subprocess.output(Subprocess.tributary.path, ["keys", "new", "--out", directory + "/validator.key"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        payee = PublicKey(hex: validator)!
        try Subprocess.run(Subprocess.tributary, [
            "init", "--home", directory + "/home", "--chain-id", chainID, "--validator-key", directory + "/validator.key",
            "--fund", "\(validator)=1000", "--fund", "\(payer.publicKey.hex)=1000000", "--block-interval-ms", String(blockIntervalMs),
        ])
        let port = try LocalCluster.freePortRange(2)
        url = "http://127.0.0.1:\(port)"
        process.executableURL = Subprocess.tributary
        process.arguments = ["start", "--home", directory + "/home", "--http-address", "127.0.0.1:\(port)", "--p2p-address", "127.0.0.1:\(port + 1)",
                             "--serve-model", "--inference-threads", "2", "--price-per-token", String(price), "--x402-settlement", settlement,
                             "--log-level", "warning"]
        _ = FileManager.default.createFile(atPath: directory + "/node.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/node.log")!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        session = try HTTPClient.Session()
        let deadline = Date().addingTimeInterval(120)
        while (try? HTTPClient.send("GET", url + "/v1/models"))?.status != 200 {
            guard process.isRunning, Date() < deadline else { throw CommandError("the bench node did not start; see \(directory)/node.log") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func stop() {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
    }

    func get(_ path: String) throws {
        let response = try HTTPClient.send("GET", url + path, session: session)
        guard response.status == 200 else { throw CommandError("GET \(path): HTTP \(response.status)") }
    }

    /// One verify or settle of a fresh exact payment to this node.
    func facilitator(_ route: String) throws {
        let offer = PaymentRequirements(scheme: .exact, chainID: chainID, amount: 1_000, payTo: payee, maxTimeoutSeconds: 60, resource: url + "/v1/completions")
        let payment = PaymentPayload(paying: offer, with: payer, now: UInt64(Date().timeIntervalSince1970))!
        let body = X402JSON.data(FacilitatorRequest(payment: payment, requirements: offer).json)
        let response = try HTTPClient.send("POST", url + "/x402/" + route, body: Array(body), headers: ["Content-Type: application/json"], session: session)
        guard response.status == 200, response.json?[route == "verify" ? "isValid" : "success"] as? Bool == true else {
            throw CommandError("/x402/\(route) refused a bench payment: \(String(decoding: response.body, as: UTF8.self))")
        }
    }

    /// The upto offer of a 402 answer to `body`.
    private func quotedOffer(_ body: [UInt8]) throws -> PaymentRequirements {
        let quote = try HTTPClient.send("POST", url + "/v1/completions", body: body, headers: ["Content-Type: application/json"])
        guard quote.status == 402 else { throw CommandError("a priced node answered \(quote.status) to an unpaid completion") }
        return try X402Commands.choose(X402Commands.paymentRequired(quote).accepts, budget: nil, scheme: .upto)
    }

    /// Clients connecting from one loopback address; the node admits 64 connections per address.
    static let clientsPerAddress = 32

    /// The `max_tokens` values of a bench turn: `mean/2 … 3·mean/2`, so that completions end at
    /// different steps. (With one length for all, the batch's sequences start and end
    /// together, and a window counts whole waves of 32 completions: 5 or 6 in 8 s, a 20 % step.)
    static func lengths(mean: Int) -> ClosedRange<Int> { max(1, mean / 2)...max(1, mean + mean / 2) }

    /// The completion request of `maxTokens` tokens the clients send.
    static func completionBody(maxTokens: Int) -> [UInt8] {
        Array(X402JSON.data(["model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "Write a sentence about rivers.", "max_tokens": maxTokens, "temperature": 0]))
    }

    /// `clients` concurrent clients, each sending completions one after another (paid by upto
    /// when `paid`) for `warmup + window` and then stopping: the requests and completion tokens
    /// that finished within `window` after the warmup, so that neither the clients' start nor
    /// their last requests (a commit-mode client's last one waits for a block) are counted.
    /// Each client draws its requests' `max_tokens` from `lengths(mean: maxTokens)` with its
    /// own seeded generator, so every mode gets the same sequence of lengths.
    func inference(clients: Int, window: Double, warmup: Double, maxTokens: Int, paid: Bool) throws -> (requests: Int, tokens: Int, seconds: Double) {
        let lengths = Self.lengths(mean: maxTokens)
        let bodies = Dictionary(uniqueKeysWithValues: lengths.map { ($0, Self.completionBody(maxTokens: $0)) })
        let offers: [Int: PaymentRequirements] = try paid ? bodies.mapValues(quotedOffer) : [:]
        let counted = Mutex((requests: 0, tokens: 0)), failure = Mutex<(any Error)?>(nil)
        let start = ContinuousClock.now
        let (opens, closes) = (start + .milliseconds(Int(warmup * 1000)), start + .milliseconds(Int((warmup + window) * 1000)))
        // A thread per client: concurrentPerform would run only as many at once as there are cores.
        let finished = DispatchGroup()
        for client in 0..<clients {
            finished.enter()
            Thread.detachNewThread { [self] in
                defer { finished.leave() }
                do {
                    let session = try HTTPClient.Session(sourceAddress: "127.0.0.\(2 + client / Self.clientsPerAddress)")
                    var random = SplitMix64(seed: UInt64(client))
                    while ContinuousClock.now < closes, failure.withLock({ $0 == nil }) {
                        let length = lengths.lowerBound + Int(random.next() % UInt64(lengths.count))
                        var headers = ["Content-Type: application/json"]
                        if paid {
                            let payment = PaymentPayload(paying: offers[length]!, with: payer, now: UInt64(Date().timeIntervalSince1970))!
                            headers.append("\(X402.paymentSignatureHeader): \(payment.headerValue)")
                        }
                        let response = try HTTPClient.send("POST", url + "/v1/completions", body: bodies[length]!, headers: headers, timeoutSeconds: 300, session: session)
                        guard response.status == 200, let usage = response.json?["usage"] as? [String: Any], let count = usage["completion_tokens"] as? Int else {
                            let reason = response.json?["error"].map { "\($0)" } ?? String(decoding: response.body.prefix(300), as: UTF8.self)
                            throw CommandError("a bench completion failed: HTTP \(response.status): \(reason)")
                        }
                        let now = ContinuousClock.now
                        if now >= opens && now < closes { counted.withLock { $0 = ($0.requests + 1, $0.tokens + count) } }
                    }
                } catch { failure.withLock { $0 = error } }
            }
        }
        finished.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        let total = counted.withLock { $0 }
        return (total.requests, total.tokens, window)
    }
}
