import Dispatch
import Foundation

/// Fine-tunes a new LoRA adapter on a datanet file: epochs over the documents in an order
/// shuffled from the seed, batches of `batchSize` documents, the mean next-token loss's
/// gradient (`GradientEngine`), clipping to `gradientNormMax`, linear warm-up, AdamW.
/// A checkpoint is written into the output directory after every epoch; `resume` continues
/// from it. For one seed, data, settings and thread count the result is bit-identical,
/// whether or not the run was stopped and resumed in between.
public final class LoRATrainer {
    /// Where training stands after a step.
    public struct Progress: Sendable {
        public let epoch: Int
        public let epochs: Int
        /// Step within the epoch, from 1.
        public let step: Int
        public let stepsPerEpoch: Int
        /// Steps done in all, and to do in all.
        public let globalStep: Int
        public let totalSteps: Int
        /// This step's mean loss, and the epoch's mean so far (per target token).
        public let loss: Double
        public let epochLoss: Double
        public let learningRate: Float
        /// Target tokens per second over this run's steps.
        public let tokensPerSecond: Double
        /// Estimated seconds to the end, from this run's pace.
        public let secondsLeft: Double
    }

    public let engine: GradientEngine
    public let documents: TrainingDocuments
    public let settings: TrainingSettings
    /// The output directory (adapter files and the checkpoint).
    public let directory: String
    /// Names the base model in checkpoints (e.g. its file name and size).
    public let modelIdentity: String

    public init(engine: GradientEngine, documents: TrainingDocuments, settings: TrainingSettings, directory: String, modelIdentity: String) throws(TrainingSettingsError) {
        try settings.validate()
        self.engine = engine
        self.documents = documents
        self.settings = settings
        self.directory = directory
        self.modelIdentity = modelIdentity
    }

    /// Documents (file order, from 0) with nothing to predict within `maxTokensPerDocument`
    /// tokens — a prompt that fills them — which training skips and attribution scores 0.
    public func documentsWithoutTargets() -> [Int] {
        let tokenizer = engine.model.tokenizer
        return (0..<documents.count).filter { documents.sequence($0, tokenizer: tokenizer, maxTokens: settings.maxTokensPerDocument) == nil }
    }

    /// The checkpoint's file in the output directory.
    public static let checkpointFileName = TrainingCheckpoint.fileName

    public var stepsPerEpoch: Int { (documents.count + settings.batchSize - 1) / settings.batchSize }
    public var totalSteps: Int { stepsPerEpoch * settings.epochs }
    public var warmupSteps: Int { settings.warmupSteps ?? totalSteps / 10 }

    /// The learning rate of global step `step` (from 0).
    public func learningRate(step: Int) -> Float {
        step < warmupSteps ? settings.learningRate * Float(step + 1) / Float(warmupSteps) : settings.learningRate
    }

    /// Document order of `epoch`: a Fisher–Yates shuffle driven by SplitMix64 seeded from
    /// the seed and the epoch, so any epoch's order is known without replaying the others.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<documents.count)
        var random = SplitMix64(seed: settings.seed ^ (UInt64(epoch + 1) &* 0x9E37_79B9_7F4A_7C15))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return order
    }

    /// Trains (from the checkpoint with `resume`, else from PEFT's initialisation) and
    /// returns the factors; `progress` hears about every step.
    public func run(resume: Bool, progress: (Progress) -> Void) throws -> LoRAParameters {
        let c = engine.configuration, tokenizer = engine.model.tokenizer
        let initial = LoRAParameters.initialized(
            configuration: c, layers: Array(0..<c.layerCount), projections: settings.targets, rank: settings.rank, alpha: settings.alpha, seed: settings.seed)
        var identity = settings.record
        identity["data"] = documents.digest
        identity["threads"] = String(engine.threadCount)
        identity["model"] = modelIdentity
        identity["blas_core"] = BLASKernels.coreName
        var state = TrainingCheckpoint(epochsDone: 0, parameters: initial, optimizer: AdamW(count: initial.values.count, weightDecay: settings.weightDecay), identity: identity)
        if resume, let saved = try TrainingCheckpoint.read(from: directory, expecting: identity, layout: initial, weightDecay: settings.weightDecay, epochs: settings.epochs) {
            state = saved
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let start = DispatchTime.now().uptimeNanoseconds
        var tokensThisRun = 0, stepsThisRun = 0
        for epoch in state.epochsDone..<settings.epochs {
            let order = self.order(epoch: epoch)
            var epochLoss = 0.0, epochTargets = 0
            for step in 0..<stepsPerEpoch {
                let globalStep = epoch * stepsPerEpoch + step
                let batch = order[(step * settings.batchSize)..<min(order.count, (step + 1) * settings.batchSize)].compactMap {
                    documents.sequence($0, tokenizer: tokenizer, maxTokens: settings.maxTokensPerDocument)
                }
                let rate = learningRate(step: globalStep)
                var loss = 0.0
                if !batch.isEmpty {
                    var result = try engine.lossAndGradient(batch, parameters: state.parameters)
                    let norm = clipGradientNorm(&result.gradient, maximum: settings.gradientNormMax)
                    // A diverged step would write NaN into every factor and the checkpoint.
                    guard result.loss.isFinite, norm.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, step: step + 1) }
                    state.optimizer.update(&state.parameters.values, gradient: result.gradient, learningRate: rate)
                    loss = result.loss
                    epochLoss += result.loss * Double(result.targetCount)
                    epochTargets += result.targetCount
                    tokensThisRun += result.targetCount
                }
                stepsThisRun += 1
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                progress(Progress(
                    epoch: epoch + 1, epochs: settings.epochs, step: step + 1, stepsPerEpoch: stepsPerEpoch,
                    globalStep: globalStep + 1, totalSteps: totalSteps, loss: loss, epochLoss: epochTargets > 0 ? epochLoss / Double(epochTargets) : 0,
                    learningRate: rate, tokensPerSecond: seconds > 0 ? Double(tokensThisRun) / seconds : 0,
                    secondsLeft: seconds / Double(stepsThisRun) * Double(totalSteps - globalStep - 1)))
            }
            // Every document too short to predict anything (one token): nothing was trained.
            guard epochTargets > 0 else { throw TrainingError.noTargets }
            state.epochsDone = epoch + 1
            try state.write(to: directory)
        }
        return state.parameters
    }

    /// Writes `parameters` as a PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`) into the output directory.
    public func writeAdapter(_ parameters: LoRAParameters) throws(AdapterError) {
        try PEFTWriter.write(parameters.pairs(), configuration: parameters.configuration, to: directory)
    }
}
