import Crypto
import Foundation
import Inference

/// Serving throughput with and without attribution: `clients` threads each send
/// `requestsPerClient` greedy completions of `maxTokens` tokens to the node's completions API
/// (`CompletionsAPI.handle`, in this process, no socket) on one adapter, first without
/// `"attribution"`, then with it, then both again; completion tokens per wall-clock second.
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
            chainID: "bench", proofDirectory: directory + "/attributions", log: Logger(format: .human, level: .warning))
        defer { service.stop() }
        let api = CompletionsAPI(service: service, policy: OpenServingPolicy())
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

    /// One round: completion tokens per second, and how many answers were attributed or skipped.
    private func round(_ api: CompletionsAPI, prompts: [String], attribution: Bool, requests: Int) -> [String: Any] {
        let counts = Counts()
        let start = DispatchTime.now().uptimeNanoseconds
        let group = DispatchGroup()
        for client in 0..<clients {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for number in 0..<requests {
                    var object: [String: Any] = ["model": Self.adapterName, "prompt": prompts[(client * requests + number) % prompts.count],
                                                 "max_tokens": maxTokens, "temperature": 0]
                    if attribution { object["attribution"] = true }
                    let body = Array(try! JSONSerialization.data(withJSONObject: object))
                    let response = api.handle(HTTPRequest(method: "POST", path: "/v1/completions", query: [:], headers: [:], body: body))
                    let answer = response.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }
                    let tokens = (answer?["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0
                    counts.add(tokens: tokens, status: (answer?["attribution"] as? [String: Any])?["status"] as? String)
                }
            }
        }
        group.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let (tokens, attributed, skipped) = counts.value
        return ["seconds": seconds, "tokens": tokens, "tokens_per_s": Double(tokens) / seconds, "attributed": attributed, "skipped": skipped]
    }

    private final class Counts: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var tokens = 0, attributed = 0, skipped = 0

        func add(tokens count: Int, status: String?) {
            lock.withLock {
                tokens += count
                if status == "attributed" { attributed += 1 } else if status == "skipped" { skipped += 1 }
            }
        }

        var value: (Int, Int, Int) { lock.withLock { (tokens, attributed, skipped) } }
    }
}
