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
        completions of --max-tokens tokens one after another, paid (upto, signed by the client
        for each request) or unpaid; requests/s and tokens/s of the completions finished within
        --window-ms after --warmup-ms (the clients' start and their last requests are not
        counted). The default 48 clients keep the node saturated (a batch holds
        32 sequences, and in commit mode some clients are always waiting for a block), so the
        ratios compare the node's capacity; with few clients they measure how long each
        client waits instead.
        """,
        options: [
            .init(name: "requests", value: "N", help: "Facilitator requests per measurement (default 200)."),
            .init(name: "clients", value: "N", help: "Concurrent inference clients (default 48)."),
            .init(name: "window-ms", value: "MS", help: "Completions are counted over this long in each turn (default 5000)."),
            .init(name: "warmup-ms", value: "MS", help: "Each turn's clients run this long before counting starts (default 1000)."),
            .init(name: "rounds", value: "N", help: "Rounds of inference, the modes taking turns in each (default 3)."),
            .init(name: "max-tokens", value: "N", help: "Tokens per completion (default 16)."),
            .init(name: "block-interval-ms", value: "MS", help: "The nodes' block interval (default 500, the node's default)."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { arguments in
        let requests = try arguments.integer("requests", default: 200, in: 10...100_000)
        let clients = try arguments.integer("clients", default: 48, in: 1...256)
        let window = Double(try arguments.integer("window-ms", default: 5_000, in: 100...600_000)) / 1000
        let warmup = Double(try arguments.integer("warmup-ms", default: 1_000, in: 0...600_000)) / 1000
        let rounds = try arguments.integer("rounds", default: 3, in: 1...100)
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
        var totals: [String: (requests: Int, tokens: Int, seconds: Double)] = [:]
        for round in 0..<rounds {
            for turn in 0..<modes.count {
                let mode = modes[(round + turn) % modes.count]
                let measured = try nodes[mode]!.inference(clients: clients, window: window, warmup: warmup, maxTokens: maxTokens, paid: mode != "unpaid")
                let total = totals[mode] ?? (0, 0, 0)
                totals[mode] = (total.requests + measured.requests, total.tokens + measured.tokens, total.seconds + measured.seconds)
            }
        }
        for (mode, total) in totals {
            guard total.requests > 0 else { throw CommandError("no \(mode) completion finished within a measuring window; lengthen --window-ms") }
            figures[mode == "unpaid" ? "unpaid" : "paid_\(mode)"] = [
                "requests_per_s": Double(total.requests) / total.seconds, "tokens_per_s": Double(total.tokens) / total.seconds, "seconds": total.seconds,
            ]
        }

        let unpaid = (figures["unpaid"] as! [String: Double])["requests_per_s"]!
        let verifyAdded = (figures["verify_p50_ms"] as! Double) - (figures["supported_p50_ms"] as! Double)
        figures["verify_added_p50_ms"] = verifyAdded
        var goals: [String: Bool] = [
            "verify_at_most_1ms_p50": verifyAdded <= 1,
            "settle_commit_within_one_block_interval": (figures["settle_commit_p50_ms"] as! Double) <= Double(blockIntervalMs),
        ]
        for mode in ["commit", "pending"] {
            let paid = (figures["paid_\(mode)"] as! [String: Double])["requests_per_s"]!
            figures["paid_\(mode)_over_unpaid"] = paid / unpaid
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
        FileManager.default.createFile(atPath: directory + "/node.log", contents: nil)
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

    /// `clients` concurrent clients, each sending completions one after another (paid by upto
    /// when `paid`) for `warmup + window` and then stopping: the requests and completion tokens
    /// that finished within `window` after the warmup, so that neither the clients' start nor
    /// their last requests (a commit-mode client's last one waits for a block) are counted.
    func inference(clients: Int, window: Double, warmup: Double, maxTokens: Int, paid: Bool) throws -> (requests: Int, tokens: Int, seconds: Double) {
        let body = Array(X402JSON.data(["model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "Write a sentence about rivers.", "max_tokens": maxTokens, "temperature": 0]))
        let offer: PaymentRequirements? = try paid ? quotedOffer(body) : nil
        let counted = Mutex((requests: 0, tokens: 0)), failure = Mutex<(any Error)?>(nil)
        let start = ContinuousClock.now
        let (opens, closes) = (start + .milliseconds(Int(warmup * 1000)), start + .milliseconds(Int((warmup + window) * 1000)))
        // A thread per client: concurrentPerform would run only as many at once as there are cores.
        let finished = DispatchGroup()
        for _ in 0..<clients {
            finished.enter()
            Thread.detachNewThread { [self] in
                defer { finished.leave() }
                do {
                    let session = try HTTPClient.Session()
                    while ContinuousClock.now < closes, failure.withLock({ $0 == nil }) {
                        var headers = ["Content-Type: application/json"]
                        if let offer {
                            let payment = PaymentPayload(paying: offer, with: payer, now: UInt64(Date().timeIntervalSince1970))!
                            headers.append("\(X402.paymentSignatureHeader): \(payment.headerValue)")
                        }
                        let response = try HTTPClient.send("POST", url + "/v1/completions", body: body, headers: headers, timeoutSeconds: 300, session: session)
                        guard response.status == 200, let usage = response.json?["usage"] as? [String: Any], let count = usage["completion_tokens"] as? Int else {
                            throw CommandError("a bench completion failed: HTTP \(response.status) \(String(decoding: response.body.prefix(300), as: UTF8.self))")
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
