import Attribution
import Crypto
import Foundation
import Inference

/// `tributary train`: fine-tune a LoRA adapter on a datanet file.
enum TrainCommand {
    static let spec = CommandSpec(
        path: ["train"],
        summary: "Fine-tune a LoRA adapter on a datanet file (JSON Lines) on the CPU.",
        discussion: """
        Each line of the datanet file is {"text": ...} (trained on every next token) or
        {"prompt": ..., "completion": ...} (trained on the completion's tokens only); other keys
        are ignored. Tokens come from the model's tokenizer with no special tokens added, cut to
        --max-tokens-per-doc. The loss is the mean next-token cross-entropy over a batch's target
        tokens; AdamW with gradient clipping and a linear warm-up. Progress goes to stderr.
        After every epoch a checkpoint is written into --out; --resume continues from it (with the
        same data, settings and --threads the result is bit-identical to an uninterrupted run).
        At the end --out holds a PEFT adapter (adapter_config.json, adapter_model.safetensors);
        its id (the hash 'tx register-adapter --adapter-hash' takes) is printed, or with --json
        {"adapter", "directory", "documents", "epochs", "steps", "loss", "tokens_per_second", "seconds",
        "attribution_root"}. Last, the adapter's attribution index is built into --out/attribution
        (as 'tributary attribute index' does, projection seed 1), unless --no-index.
        """,
        options: [
            .init(name: "datanet", value: "FILE", help: "The datanet file (JSON Lines) to train on."),
            .init(name: "out", value: "DIR", help: "Directory for the adapter and checkpoints."),
            .init(name: "rank", value: "R", help: "LoRA rank (default 8)."),
            .init(name: "alpha", value: "A", help: "LoRA alpha; the scale is alpha / rank (default 16)."),
            .init(name: "targets", value: "LIST", help: "Projections to adapt in every layer, comma-separated, or all-linear (default q_proj,v_proj)."),
            .init(name: "epochs", value: "N", help: "Passes over the data (default 3)."),
            .init(name: "learning-rate", value: "LR", help: "Peak learning rate (default 3e-4)."),
            .init(name: "batch-size", value: "N", help: "Documents per optimizer step (default 8)."),
            .init(name: "seed", value: "N", help: "Seed of the initialisation and the shuffling (default 1)."),
            .init(name: "max-tokens-per-doc", value: "N", help: "Tokens kept of each document (default 256)."),
            .init(name: "warmup-steps", value: "N", help: "Steps of linear warm-up (default: a tenth of all steps)."),
            .init(name: "weight-decay", value: "W", help: "AdamW weight decay (default 0)."),
            .init(name: "max-grad-norm", value: "N", help: "Clip gradients to this global norm (default 1)."),
            .flag("resume", "Continue from the checkpoint in --out."),
            .flag("json", "Print a JSON summary instead of text."),
            .flag("no-index", "Do not build the attribution index at the end."),
            ModelCommands.modelOption,
            ModelCommands.homeOption,
            ModelCommands.threadsOption,
        ]
    ) { arguments in
        let datanet = try arguments.required("datanet"), out = try arguments.required("out")
        let settings = try settings(arguments)
        let resume = arguments.flag("resume")
        if !resume, FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent(LoRATrainer.checkpointFileName)) {
            throw CommandError("\(out) already holds a training checkpoint; pass --resume to continue it, or choose another --out")
        }
        let documents = try TrainingDocuments(path: datanet)
        let model = try ModelCommands.load(arguments)
        let engine = GradientEngine(model: model, threads: try ModelCommands.threads(arguments))
        guard settings.maxTokensPerDocument <= engine.sequenceTokensLimit else {
            throw UsageError("--max-tokens-per-doc \(settings.maxTokensPerDocument) exceeds the \(engine.sequenceTokensLimit) tokens a training sequence may hold with this model")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: model.path)[.size] as? Int) ?? 0
        let trainer = try LoRATrainer(
            engine: engine, documents: documents, settings: settings, directory: out,
            modelIdentity: "\((model.path as NSString).lastPathComponent):\(size)")
        let untrained = trainer.documentsWithoutTargets()
        if !untrained.isEmpty {
            let lines = untrained.prefix(5).map { String($0 + 1) }.joined(separator: ", ") + (untrained.count > 5 ? ", …" : "")
            Output.note("\(untrained.count) of \(documents.count) documents have nothing to predict within --max-tokens-per-doc \(settings.maxTokensPerDocument) (their prompts fill it): they are not trained on and cannot be attributed (documents \(lines))")
        }
        Output.note("training on \(documents.count) documents: \(trainer.totalSteps) steps (\(settings.epochs) epochs × \(trainer.stepsPerEpoch)), rank \(settings.rank), \(settings.targets.map(\.rawValue).joined(separator: ",")), \(engine.threadCount) threads")
        let bar = ProgressBar()
        let start = DispatchTime.now().uptimeNanoseconds
        var last: LoRATrainer.Progress?
        let parameters = try trainer.run(resume: resume) { progress in
            bar.show(progress)
            last = progress
        }
        try trainer.writeAdapter(parameters)
        let adapter = try LoRAAdapter.load(path: out, for: model.configuration)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var root: String?
        if !arguments.flag("no-index") {
            let builder = AttributionIndexBuilder(
                engine: engine, parameters: try LoRAParameters(pairs: adapter.pairs(), configuration: model.configuration),
                adapterID: Digest(hex: adapter.id)!, seed: 1, maxTokensPerDocument: settings.maxTokensPerDocument)
            let (index, spans) = try builder.build(documents) { done in
                if done % 256 == 0 || done == documents.count { Output.note("attribution index: \(done)/\(documents.count) documents") }
            }
            let directory = (out as NSString).appendingPathComponent("attribution")
            try index.write(to: directory)
            try spans.write(to: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName))
            root = index.root.hex
        }
        if arguments.flag("json") {
            try Output.json([
                "adapter": adapter.id, "directory": out, "documents": documents.count, "untrained_documents": untrained.count, "epochs": settings.epochs,
                "steps": trainer.totalSteps, "loss": last?.epochLoss ?? NSNull(), "tokens_per_second": last?.tokensPerSecond ?? 0, "seconds": seconds,
                "attribution_root": root ?? NSNull(),
            ], pretty: false)
        } else {
            print("adapter \(adapter.id) written to \(out)")
        }
    }

    /// The settings the flags give.
    static func settings(_ arguments: ParsedArguments) throws -> TrainingSettings {
        var settings = TrainingSettings()
        settings.rank = try arguments.integer("rank", default: settings.rank, in: 1...256)
        settings.alpha = Float(try arguments.decimal("alpha", default: Double(settings.alpha), in: 1e-6...1e6))
        if let list = arguments.value("targets") { settings.targets = try targets(list) }
        settings.epochs = try arguments.integer("epochs", default: settings.epochs, in: 1...10_000)
        settings.learningRate = Float(try arguments.decimal("learning-rate", default: Double(settings.learningRate), in: 1e-9...0.999))
        settings.batchSize = try arguments.integer("batch-size", default: settings.batchSize, in: 1...4096)
        settings.seed = try arguments.integer("seed", default: settings.seed, in: 0...UInt64.max)
        settings.maxTokensPerDocument = try arguments.integer("max-tokens-per-doc", default: settings.maxTokensPerDocument, in: 2...GradientEngine.sequenceTokensMax)
        if arguments.value("warmup-steps") != nil { settings.warmupSteps = try arguments.integer("warmup-steps", default: 0, in: 0...100_000_000) }
        settings.weightDecay = Float(try arguments.decimal("weight-decay", default: Double(settings.weightDecay), in: 0...0.999))
        settings.gradientNormMax = Float(try arguments.decimal("max-grad-norm", default: Double(settings.gradientNormMax), in: 1e-9...1e9))
        try settings.validate()
        return settings
    }

    /// `q_proj,v_proj`-style lists (PEFT's module names), or `all-linear`; in the model's
    /// order whatever the list's, so a checkpoint resumes under either spelling.
    static func targets(_ list: String) throws(UsageError) -> [Projection] {
        if list == "all-linear" { return Projection.allCases }
        var targets: [Projection] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let projection = Projection(rawValue: name) else {
                throw UsageError("--targets: unknown module '\(name)' (use \(Projection.allCases.map(\.rawValue).joined(separator: ", ")) or all-linear)")
            }
            if !targets.contains(projection) { targets.append(projection) }
        }
        guard !targets.isEmpty else { throw UsageError("--targets names no module") }
        return Projection.allCases.filter(targets.contains)
    }
}

/// The training progress line on stderr: redrawn in place on a terminal, else printed
/// about every ten seconds and at the end of each epoch.
final class ProgressBar {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastLine: UInt64 = 0
    private static let width = 24

    func show(_ p: LoRATrainer.Progress) {
        let filled = Self.width * p.step / p.stepsPerEpoch
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: Self.width - filled)
        let line = String(
            format: "epoch %d/%d [%@] step %d/%d  loss %.4f (epoch %.4f)  lr %.2e  %.0f tok/s  %@ left",
            p.epoch, p.epochs, bar, p.step, p.stepsPerEpoch, p.loss, p.epochLoss, p.learningRate, p.tokensPerSecond, Self.duration(p.secondsLeft))
        let now = DispatchTime.now().uptimeNanoseconds
        if isTerminal {
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
            if p.step == p.stepsPerEpoch { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if p.step == p.stepsPerEpoch || now - lastLine >= 10_000_000_000 {
            Output.note(line)
            lastLine = now
        }
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%dh%02dm", total / 3600, total % 3600 / 60) : String(format: "%dm%02ds", total / 60, total % 60)
    }
}
