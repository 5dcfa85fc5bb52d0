/// One training example: tokens, and from which token on they are prediction targets.
/// Position `t` predicts token `t + 1`; the loss counts the predictions of tokens
/// `firstTarget…` (1 for a plain document: every next token; the first completion token for
/// a prompt/completion pair).
public struct TrainingSequence: Sendable, Equatable {
    public let tokens: [Int32]
    public let firstTarget: Int

    public init(tokens: [Int32], firstTarget: Int = 1) {
        self.tokens = tokens
        self.firstTarget = max(1, firstTarget)
    }

    /// Predictions the loss counts.
    public var targetCount: Int { max(0, tokens.count - firstTarget) }
}

/// The mean loss of a batch and its gradient with respect to every LoRA factor.
public struct BatchGradient: Sendable {
    /// Mean next-token cross-entropy over the batch's targets (nats).
    public let loss: Double
    /// Targets the mean is over.
    public let targetCount: Int
    /// `∂loss/∂values`, in `LoRAParameters` layout.
    public var gradient: [Float]
}

/// Why a batch cannot be trained on.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case emptyBatch
    case noTargets
    case sequenceTooLong(length: Int, limit: Int)
    case tokenOutOfRange(Int32, vocabularySize: Int)
    case configurationMismatch
    case emptySequence
    case diverged(epoch: Int, step: Int)

    public var description: String {
        switch self {
        case .emptyBatch: "the batch has no sequences"
        case .noTargets: "nothing to predict: every document (or prompt/completion pair) needs two tokens or more"
        case let .sequenceTooLong(length, limit): "a sequence of \(length) tokens exceeds the limit of \(limit)"
        case let .tokenOutOfRange(token, size): "token \(token) outside the vocabulary of \(size)"
        case .configurationMismatch: "the adapter's parameters were made for a different model shape"
        case .emptySequence: "a sequence of the batch has no tokens"
        case let .diverged(epoch, step): "training diverged at epoch \(epoch), step \(step) (the loss or gradient is not finite); lower --learning-rate"
        }
    }
}
