import Foundation
import Inference

/// `tributary bench train`: LoRA training throughput and peak memory on the default model
/// against PyTorch + PEFT in float32 on the same documents, settings and threads, in one run.
enum BenchTrainCommand {
    static let spec = CommandSpec(
        path: ["bench", "train"],
        summary: "Measure LoRA training tokens/s and peak memory against PyTorch + PEFT (float32).",
        discussion: """
        Makes --batch-size × (--warmup-steps + --steps) documents of --tokens random token ids
        (seeded), and for each target set (q_proj,v_proj and all-linear unless --targets) runs
        --warmup-steps untimed and --steps timed training steps (forward, backward, clipping,
        AdamW) here, then the same with bench/torch_train_baseline.py (PyTorch + PEFT, float32,
        torch.set_num_threads(--threads)) in a process of its own. Tokens/s counts target tokens
        (tokens − 1 per document) over the timed steps. Peak memory is each side's resident-set
        high-water mark (here reset before each target set through /proc/self/clear_refs). Both
        sides start from B = 0, so their first losses are the base model's and should agree.
        """,
        options: [
            ModelCommands.modelOption,
            ModelCommands.homeOption,
            .init(name: "threads", value: "N", help: "Threads for both sides (default 2)."),
            .init(name: "targets", value: "LIST", help: "One target set to measure, e.g. q_proj,v_proj or all-linear (default both)."),
            .init(name: "rank", value: "R", help: "LoRA rank (default 8)."),
            .init(name: "batch-size", value: "N", help: "Documents per step (default 8)."),
            .init(name: "tokens", value: "N", help: "Tokens per document (default 128)."),
            .init(name: "steps", value: "N", help: "Timed steps per side and target set (default 3)."),
            .init(name: "warmup-steps", value: "N", help: "Untimed steps first (default 1)."),
            .init(name: "baseline-python", value: "PATH", help: "Python with torch, transformers and peft (default .cache/train-venv/bin/python; bench/torch-venv.sh installs it)."),
            .init(name: "baseline-script", value: "FILE", help: "The baseline script (default bench/torch_train_baseline.py)."),
            .flag("no-baseline", "Measure this engine only."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { arguments in
        let threads = try arguments.integer("threads", default: 2, in: 1...256)
        let rank = try arguments.integer("rank", default: 8, in: 1...256)
        let batchSize = try arguments.integer("batch-size", default: 8, in: 1...256)
        let tokens = try arguments.integer("tokens", default: 128, in: 2...GradientEngine.sequenceTokensMax)
        let steps = try arguments.integer("steps", default: 3, in: 1...1000)
        let warmup = try arguments.integer("warmup-steps", default: 1, in: 0...1000)
        let targetSets = try (arguments.value("targets").map { [$0] } ?? ["q_proj,v_proj", "all-linear"]).map { ($0, try TrainCommand.targets($0)) }
        let model = try ModelCommands.load(arguments)
        let c = model.configuration

        var random = SplitMix64(seed: 0x7472_6169_6E00)
        let documents = (0..<(batchSize * (warmup + steps))).map { _ in
            (0..<tokens).map { _ in Int32(100 + Int(random.next() % UInt64(c.vocabularySize - 100))) }
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-train-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try documents.map { "{\"tokens\": [\($0.map(String.init).joined(separator: ","))]}" }.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)

        let engine = GradientEngine(model: model, threads: threads)
        var results: [[String: Any]] = []
        for (targets, projections) in targetSets {
            Output.note("[\(targets)] this engine: \(warmup) + \(steps) steps of \(batchSize) × \(tokens) tokens, \(threads) threads…")
            resetPeakMemory()
            var parameters = LoRAParameters.initialized(
                configuration: c, layers: Array(0..<c.layerCount), projections: projections, rank: rank, alpha: Float(2 * rank), seed: 1)
            var optimizer = AdamW(count: parameters.values.count, weightDecay: 0)
            var losses: [Double] = [], seconds = 0.0, timedTokens = 0
            for step in 0..<(warmup + steps) {
                let batch = documents[(step * batchSize)..<((step + 1) * batchSize)].map { TrainingSequence(tokens: $0) }
                let start = DispatchTime.now().uptimeNanoseconds
                var result = try engine.lossAndGradient(batch, parameters: parameters)
                clipGradientNorm(&result.gradient, maximum: 1)
                optimizer.update(&parameters.values, gradient: result.gradient, learningRate: 3e-4)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                losses.append(result.loss)
                if step >= warmup {
                    seconds += elapsed
                    timedTokens += result.targetCount
                }
                Output.note(String(format: "  step %d: loss %.4f, %.2f s", step + 1, result.loss, elapsed))
            }
            var row: [String: Any] = [
                "targets": targets,
                "tributary": ["tokens_per_second": Double(timedTokens) / seconds, "timed_steps": steps, "timed_tokens": timedTokens,
                              "seconds": seconds, "peak_rss_bytes": peakMemoryBytes(), "losses": losses],
            ]
            if !arguments.flag("no-baseline") {
                Output.note("[\(targets)] PyTorch + PEFT…")
                let baseline = try torchBaseline(arguments, model: model.path, documents: file.path, targets: targets, rank: rank,
                                                 batchSize: batchSize, steps: steps, warmup: warmup, threads: threads)
                row["pytorch"] = baseline
                if let theirs = baseline["tokens_per_second"] as? Double, theirs > 0 {
                    row["speedup"] = (Double(timedTokens) / seconds) / theirs
                }
                if let theirs = (baseline["peak_rss_bytes"] as? NSNumber)?.doubleValue, theirs > 0 {
                    row["memory_ratio"] = Double(peakMemoryBytes()) / theirs
                }
            }
            results.append(row)
        }
        let figures: [String: Any] = [
            "model": (model.path as NSString).lastPathComponent, "threads": threads, "rank": rank, "alpha": 2 * rank,
            "batch_size": batchSize, "tokens_per_document": tokens, "results": results,
        ]
        if arguments.flag("json") { return try Output.json(figures) }
        print("LoRA training, \(batchSize) × \(tokens)-token documents per step, rank \(rank), \(threads) threads (\((model.path as NSString).lastPathComponent))")
        for row in results {
            let ours = row["tributary"] as! [String: Any]
            var line = String(format: "  %-14@ tributary %7.1f tokens/s, peak %5.0f MB", row["targets"] as! String,
                              ours["tokens_per_second"] as! Double, Double(ours["peak_rss_bytes"] as! Int) / 1e6)
            if let theirs = row["pytorch"] as? [String: Any], let rate = theirs["tokens_per_second"] as? Double, let peak = (theirs["peak_rss_bytes"] as? NSNumber)?.doubleValue {
                line += String(format: " | PyTorch %7.1f tokens/s, peak %5.0f MB | %.2f× speed, %.2f× memory",
                               rate, peak / 1e6, row["speedup"] as? Double ?? 0, row["memory_ratio"] as? Double ?? 0)
            }
            print(line)
        }
    }

    /// Runs the PyTorch + PEFT script on the same documents and settings; its JSON figures.
    static func torchBaseline(
        _ arguments: ParsedArguments, model: String, documents: String, targets: String, rank: Int, batchSize: Int, steps: Int, warmup: Int, threads: Int
    ) throws -> [String: Any] {
        let python = arguments.value("baseline-python") ?? ".cache/train-venv/bin/python"
        let script = arguments.value("baseline-script") ?? "bench/torch_train_baseline.py"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw CommandError("no baseline Python at \(python); run bench/torch-venv.sh (it installs torch, transformers and peft) or pass --no-baseline")
        }
        let output = try Subprocess.output(python, [
            script, "--model", model, "--documents", documents, "--rank", String(rank), "--alpha", String(2 * rank), "--targets", targets,
            "--batch-size", String(batchSize), "--learning-rate", "3e-4", "--steps", String(steps + warmup), "--warmup-steps", String(warmup),
            "--threads", String(threads), "--seed", "1", "--json",
        ])
        guard let figures = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw CommandError("the PyTorch baseline printed no JSON figures")
        }
        return figures
    }

    /// Resets this process's resident-set high-water mark (Linux: `5` into /proc/self/clear_refs).
    static func resetPeakMemory() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// This process's resident-set high-water mark (`VmHWM`), in bytes.
    static func peakMemoryBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }
}
