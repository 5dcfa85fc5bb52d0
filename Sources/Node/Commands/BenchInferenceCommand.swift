import Foundation
import Inference

/// `tributary bench inference`: prefill, decode and batched-decode throughput, time to first
/// token and peak memory of the engine, against llama.cpp run on the same GGUF, token ids
/// and thread count in the same invocation.
enum BenchInferenceCommand {
    static let spec = CommandSpec(
        path: ["bench", "inference"],
        summary: "Measure inference throughput and latency against llama.cpp on the same model.",
        discussion: """
        Both engines get the same token ids and choose tokens greedily. Figures (medians of
        --repeats runs): prefill tokens/s of a 512-token prompt; time to first token for that
        prompt and for a 32-token one; decode tokens/s of one stream; aggregate decode tokens/s
        of 8 and 32 streams decoding together, each at its own position; peak RSS.
        The baseline runs bench/llama_cpp_baseline.py with --baseline-python, a Python that has
        llama-cpp-python (bench/inference.sh installs one under .cache/bench-venv).
        """,
        options: [
            ModelCommands.modelOption,
            ModelCommands.homeOption,
            .init(name: "threads", value: "N", help: "Threads for both engines (default 2)."),
            ModelCommands.activationsOption,
            .init(name: "repeats", value: "N", help: "Runs per figure; the median is reported (default 3)."),
            .init(name: "baseline-python", value: "PATH", help: "Python with llama-cpp-python (default .cache/bench-venv/bin/python)."),
            .init(name: "baseline-script", value: "FILE", help: "The baseline script (default bench/llama_cpp_baseline.py)."),
            .flag("no-baseline", "Measure this engine only."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { arguments in
        let threads = try arguments.integer("threads", default: 2, in: 1...256)
        let repeats = try arguments.integer("repeats", default: 3, in: 1...100)
        let activations = try ModelCommands.activations(arguments)
        let modelPath = ModelCommands.modelPath(arguments)
        let model = try ModelCommands.load(arguments)
        let workload = Workload(tokenizer: model.tokenizer, repeats: repeats)

        var baseline: [String: Any]?
        if !arguments.flag("no-baseline") {
            Output.note("running llama.cpp on \(modelPath) with \(threads) threads…")
            baseline = try LlamaCppBaseline.run(
                arguments, defaultScript: "bench/llama_cpp_baseline.py", installer: "bench/inference.sh",
                model: modelPath, threads: threads, workload: workload.json)
        }
        Output.note("running tributary with \(threads) threads…")
        let ours = try measure(model: model, threads: threads, activations: activations, workload: workload)
        report(ours: ours, baseline: baseline, threads: threads, activations: activations, modelPath: modelPath, json: arguments.flag("json"))
    }

    /// The token ids both engines run.
    struct Workload {
        static let longPromptTokens = 512
        static let shortPromptTokens = 32
        static let singleDecodeTokens = 128
        static let streamDecodeSteps = 64
        static let streamCounts = [8, 32]

        let promptLong: [Int32]
        let promptShort: [Int32]
        /// One prompt per stream, 24 to 31 tokens, each from its own place in the text.
        let streamPrompts: [[Int32]]
        let repeats: Int

        init(tokenizer: BPETokenizer, repeats: Int) {
            var tokens = tokenizer.encode(Self.passage)
            while tokens.count < Self.longPromptTokens + 8 * Self.streamCounts.max()! { tokens += tokenizer.encode(" " + Self.passage) }
            promptLong = Array(tokens[0..<Self.longPromptTokens])
            promptShort = Array(tokens[0..<Self.shortPromptTokens])
            streamPrompts = (0..<Self.streamCounts.max()!).map { Array(tokens[(7 * $0)..<(7 * $0 + 24 + $0 % 8)]) }
            self.repeats = repeats
        }

        var json: [String: Any] {
            ["prompt_long": promptLong.map(Int.init), "prompt_short": promptShort.map(Int.init),
             "stream_prompts": streamPrompts.map { $0.map(Int.init) }, "single_decode_tokens": Self.singleDecodeTokens,
             "stream_decode_steps": Self.streamDecodeSteps, "streams": Self.streamCounts, "repeats": repeats]
        }

        static let passage = """
        A river system is a network of streams. Small brooks in the hills join into creeks, creeks \
        join into tributaries, and tributaries feed the main channel that carries water to the sea. \
        Hydrologists measure each branch: its discharge in cubic metres per second, the area of land \
        it drains, the sediment it carries and the chemistry of its water. When a storm falls on one \
        valley, the flood wave travels down that tributary first, and its timing decides whether the \
        peak downstream is sharp or spread over days. Engineers who build bridges and levees study \
        these records for decades, because a design that ignores a single small stream can fail in \
        the one year that stream floods. The same idea applies to many systems that gather small \
        contributions into a large flow: the whole is only understood by crediting each part.
        """
    }

    static func measure(model: LlamaModel, threads: Int, activations: ActivationPrecision, workload: Workload) throws -> [String: Any] {
        let engine = InferenceEngine(model: model, threads: threads, activations: activations)
        func median(_ run: () throws -> Double) rethrows -> Double {
            let values = try (0..<workload.repeats).map { _ in try run() }.sorted()
            return values[values.count / 2]
        }
        func prefillSeconds(_ prompt: [Int32]) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = Sampler.argmax(try engine.evaluate([(engine.makeCache(), prompt)])[0])
            return seconds(since: start)
        }
        var figures: [String: Any] = ["engine": "tributary", "threads": threads, "activations": activations.rawValue]
        let long = try median { try prefillSeconds(workload.promptLong) }
        figures["prefill_tokens_per_s"] = Double(workload.promptLong.count) / long
        figures["ttft_ms"] = long * 1000
        figures["ttft_short_ms"] = try median { try prefillSeconds(workload.promptShort) } * 1000
        figures["decode_tokens_per_s"] = try median {
            let cache = engine.makeCache()
            var token = Sampler.argmax(try engine.evaluate([(cache, workload.promptShort)])[0])
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<Workload.singleDecodeTokens { token = Sampler.argmax(try engine.evaluate([(cache, [token])])[0]) }
            return Double(Workload.singleDecodeTokens) / seconds(since: start)
        }
        for count in Workload.streamCounts {
            figures["aggregate_\(count)_tokens_per_s"] = try median {
                let caches = (0..<count).map { _ in engine.makeCache() }
                var tokens = try engine.evaluate(zip(caches, workload.streamPrompts.prefix(count)).map { ($0, $1) }).map(Sampler.argmax)
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<Workload.streamDecodeSteps {
                    tokens = try engine.evaluate(zip(caches, tokens).map { ($0, [$1]) }).map(Sampler.argmax)
                }
                return Double(count * Workload.streamDecodeSteps) / seconds(since: start)
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        figures["peak_rss_mb"] = Double(usage.ru_maxrss) / 1024
        return figures
    }

    static func report(ours: [String: Any], baseline: [String: Any]?, threads: Int, activations: ActivationPrecision, modelPath: String, json: Bool) {
        let rows: [(key: String, label: String)] = [
            ("prefill_tokens_per_s", "prefill, 512-token prompt (tokens/s)"),
            ("ttft_ms", "time to first token, 512-token prompt (ms)"),
            ("ttft_short_ms", "time to first token, 32-token prompt (ms)"),
            ("decode_tokens_per_s", "decode, 1 stream (tokens/s)"),
            ("aggregate_8_tokens_per_s", "decode, 8 streams aggregate (tokens/s)"),
            ("aggregate_32_tokens_per_s", "decode, 32 streams aggregate (tokens/s)"),
            ("peak_rss_mb", "peak RSS (MB)"),
        ]
        var ratios: [String: Double] = [:]
        if let baseline {
            for row in rows {
                if let mine = ours[row.key] as? Double, let theirs = baseline[row.key] as? Double, theirs > 0 {
                    ratios[row.key] = mine / theirs
                }
            }
            if let mine = ours["aggregate_32_tokens_per_s"] as? Double, let single = baseline["decode_tokens_per_s"] as? Double {
                ratios["aggregate_32_over_baseline_single"] = mine / single
            }
        }
        if json {
            var object: [String: Any] = ["model": modelPath, "threads": threads, "tributary": ours, "ratios": ratios]
            if let baseline { object["llama_cpp"] = baseline }
            try? Output.json(object)
            return
        }
        func format(_ value: Any?) -> String {
            guard let number = value as? Double else { return "—" }
            return String(format: number >= 100 ? "%.0f" : "%.1f", number)
        }
        func padded(_ text: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
        print("model \(modelPath), \(threads) threads, tributary activations \(activations.rawValue)")
        print(padded("", 44, left: true) + padded("tributary", 12) + padded("llama.cpp", 12) + padded("ratio", 9))
        for row in rows {
            let ratio = ratios[row.key].map { String(format: "%.2f×", $0) } ?? "—"
            print(padded(row.label, 44, left: true) + padded(format(ours[row.key]), 12) + padded(format(baseline?[row.key]), 12) + padded(ratio, 9))
        }
        if let ratio = ratios["aggregate_32_over_baseline_single"] {
            print(String(format: "32-stream aggregate over llama.cpp single-stream decode: %.2f× (goal ≥ 3×)", ratio))
        }
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
