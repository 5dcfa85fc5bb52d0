import Crypto
import Foundation
import Inference

/// Serving throughput with and without attribution: `clients` threads each stream
/// `requestsPerClient` greedy completions of `maxTokens` tokens from the node's completions API
/// (`CompletionsAPI.handle`, in this process, no socket) on one adapter, first without
/// `"attribution"`, then with it, then both again; completion tokens per second of generation.
struct AttributionServingBench {
    let modelPath: String
    let adapterDirectory: String
    let threads: Int
    let clients: Int
    let requestsPerClient: Int
    let maxTokens: Int
    static let adapterName = "bench"

    func run(prompts: [String]) throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-attribution-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/adapters", withIntermediateDirectories: true)
        let absolute = URL(fileURLWithPath: adapterDirectory).standardizedFileURL.path
        try FileManager.default.createSymbolicLink(atPath: directory + "/adapters/" + Self.adapterName, withDestinationPath: absolute)
        let service = try ModelService(
            path: modelPath, threads: threads, activations: .float32, limits: GenerationScheduler.Limits(), adapterBudgetBytes: 1 << 30,
            adapterDirectory: directory + "/adapters", attributionQueueMax: NodeConfig().attribution_queue_max, attributionKey: SigningKey(),
            chainID: "bench", proofs: try AttributionProofStore(directory: directory + "/attributions", bytesMax: NodeConfig().attribution_proofs_bytes_max),
            log: Logger(format: .human, level: .warning))
        defer { service.stop() }
        var api = HTTPRouter()
        CompletionsAPI(service: service, policy: OpenServingPolicy()).register(in: &api, budget: ConnectionBudget(connectionsMax: .max))
        _ = round(api, prompts: prompts, attribution: true, requests: 1)  // loads the adapter and its index
        var rounds: [[String: Any]] = []
        for attribution in [false, true, false, true] {
            let figures = round(api, prompts: prompts, attribution: attribution, requests: requestsPerClient)
            Output.note("[serving] attribution \(attribution ? "on " : "off"): \(figures)")
            rounds.append(figures.merging(["attribution": attribution]) { $1 })
        }
        let rate = { (on: Bool) in rounds.filter { $0["attribution"] as! Bool == on }.map { $0["tokens_per_s"] as! Double }.reduce(0, +) / 2 }
        return ["clients": clients, "requests_per_client": requestsPerClient, "max_tokens": maxTokens, "rounds": rounds,
                "tokens_per_s_off": rate(false), "tokens_per_s_on": rate(true), "ratio": rate(true) / rate(false)]
    }

    /// One round: completion tokens per second of generation, and how many answers were
    /// attributed or skipped. Requests are streamed; a client sends its next request once its
    /// answer's last text chunk (with `usage`) has come, and the rest of the stream — the
    /// attribution chunk — is read on the side, so the round times generation while
    /// attribution runs beside it, as a node's many clients would.
    private func round(_ api: HTTPRouter, prompts: [String], attribution: Bool, requests: Int) -> [String: Any] {
        let counts = Counts()
        let start = DispatchTime.now().uptimeNanoseconds
        let generating = DispatchGroup(), draining = DispatchGroup()
        for client in 0..<clients {
            generating.enter()
            Thread.detachNewThread {
                defer { generating.leave() }
                for number in 0..<requests {
                    var object: [String: Any] = ["model": Self.adapterName, "prompt": prompts[(client * requests + number) % prompts.count],
                                                 "max_tokens": maxTokens, "temperature": 0, "stream": true]
                    if attribution { object["attribution"] = true }
                    let body = Array(try! JSONSerialization.data(withJSONObject: object))
                    guard let stream = api.handle(HTTPRequest(method: "POST", path: "/v1/completions", query: [:], headers: [:], body: body)).stream else { continue }
                    let events = EventReader(stream)
                    while let event = events.next() {
                        guard let usage = event["usage"] as? [String: Any] else { continue }
                        counts.add(tokens: usage["completion_tokens"] as? Int ?? 0)
                        break
                    }
                    draining.enter()
                    Thread.detachNewThread {
                        defer { draining.leave() }
                        while let event = events.next() {
                            if let status = (event["attribution"] as? [String: Any])?["status"] as? String { counts.add(status: status) }
                        }
                    }
                }
            }
        }
        generating.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        draining.wait()
        let drained = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let (tokens, attributed, skipped) = counts.value
        return ["seconds": seconds, "tokens": tokens, "tokens_per_s": Double(tokens) / seconds, "attributed": attributed, "skipped": skipped,
                "seconds_until_last_attribution": drained]
    }

    /// The JSON events of a server-sent event stream, one at a time.
    private final class EventReader: @unchecked Sendable {  // read by one thread at a time
        private let stream: HTTPBodyStream
        private var buffered: [UInt8] = []

        init(_ stream: HTTPBodyStream) { self.stream = stream }

        /// The next `data:` event's object; nil at the end (`[DONE]` or the stream's end).
        func next() -> [String: Any]? {
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = buffered.indices.dropLast().first(where: { buffered[$0] == 0x0A && buffered[$0 + 1] == 0x0A }) {
                    let event = String(decoding: buffered[..<end], as: UTF8.self)
                    buffered.removeFirst(end + 2)
                    guard event.hasPrefix("data: "), event != "data: [DONE]" else { return nil }
                    if let object = try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any] { return object }
                    continue
                }
                guard let count = chunk.withUnsafeMutableBufferPointer({ stream.read(into: $0.baseAddress!, capacity: $0.count) }) else { return nil }
                buffered += chunk[..<count]
            }
        }
    }

    private final class Counts: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var tokens = 0, attributed = 0, skipped = 0

        func add(tokens count: Int) { lock.withLock { tokens += count } }

        func add(status: String) {
            lock.withLock {
                if status == "attributed" { attributed += 1 } else { skipped += 1 }
            }
        }

        var value: (Int, Int, Int) { lock.withLock { (tokens, attributed, skipped) } }
    }
}
