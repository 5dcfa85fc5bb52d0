/// What `LoRATrainer` trains and how (the `tributary train` flags).
public struct TrainingSettings: Sendable, Equatable {
    public var rank = 8
    public var alpha: Float = 16
    /// The projections adapted in every layer.
    public var targets: [Projection] = [.query, .value]
    public var epochs = 3
    /// Peak learning rate, reached after the warm-up and kept.
    public var learningRate: Float = 3e-4
    public var batchSize = 8
    public var seed: UInt64 = 1
    /// Tokens kept of each document (its start).
    public var maxTokensPerDocument = 256
    /// Steps of linear warm-up (step `s` of `w` uses `lr · (s + 1) / w`); nil: a tenth of all steps.
    public var warmupSteps: Int?
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float = 0
    /// Gradients are scaled down to this global L2 norm when above it.
    public var gradientNormMax: Float = 1

    public init() {}

    /// Checks ranges; the message names the flag.
    public func validate() throws(TrainingSettingsError) {
        func check(_ condition: Bool, _ message: String) throws(TrainingSettingsError) {
            if !condition { throw TrainingSettingsError(message: message) }
        }
        try check((1...256).contains(rank), "--rank must be 1…256")
        try check(alpha.isFinite && alpha > 0, "--alpha must be a positive number")
        try check(!targets.isEmpty, "--targets names no projection")
        try check((1...10_000).contains(epochs), "--epochs must be 1…10000")
        try check(learningRate.isFinite && learningRate > 0 && learningRate < 1, "--learning-rate must be in (0, 1)")
        try check((1...4096).contains(batchSize), "--batch-size must be 1…4096")
        try check((2...GradientEngine.sequenceTokensMax).contains(maxTokensPerDocument), "--max-tokens-per-doc must be 2…\(GradientEngine.sequenceTokensMax)")
        try check(warmupSteps.map { $0 >= 0 } ?? true, "--warmup-steps must not be negative")
        try check(weightDecay.isFinite && weightDecay >= 0 && weightDecay < 1, "--weight-decay must be in [0, 1)")
        try check(gradientNormMax.isFinite && gradientNormMax > 0, "--max-grad-norm must be positive")
    }

    /// Every setting as text, for a checkpoint's record (a resume must match all of them).
    var record: [String: String] {
        [
            "rank": String(rank), "alpha": String(alpha), "targets": targets.map(\.rawValue).joined(separator: ","),
            "epochs": String(epochs), "learning_rate": String(learningRate), "batch_size": String(batchSize), "seed": String(seed),
            "max_tokens_per_doc": String(maxTokensPerDocument), "warmup_steps": warmupSteps.map(String.init) ?? "auto",
            "weight_decay": String(weightDecay), "max_grad_norm": String(gradientNormMax),
        ]
    }
}

/// A training setting out of range.
public struct TrainingSettingsError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
