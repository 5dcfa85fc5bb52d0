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

    /// A tokenized document (`DatanetDocument.tokenized`) cut to its first `maxTokens`
    /// tokens; nil when nothing is left to predict.
    public init?(_ document: TokenizedDocument, maxTokens: Int) {
        self.init(tokens: Array(document.tokens.prefix(maxTokens)), firstTarget: document.firstTarget)
        guard targetCount > 0 else { return nil }
    }
}

/// A datanet document's tokens as training and span matching read them, no special tokens
/// added: its text's, or its prompt's then its completion's (each tokenized on its own).
public struct TokenizedDocument: Sendable, Equatable {
    public let tokens: [Int32]
    /// Where the predicted tokens begin: 1 for a text, the first completion token for a
    /// prompt/completion pair (at least 1).
    public let firstTarget: Int
}

extension DatanetDocument {
    /// The document's tokens (see `TokenizedDocument`).
    public func tokenized(_ tokenizer: BPETokenizer) -> TokenizedDocument {
        switch content {
        case let .text(text):
            return TokenizedDocument(tokens: tokenizer.encode(text), firstTarget: 1)
        case let .promptCompletion(prompt, completion):
            let promptTokens = tokenizer.encode(prompt)
            return TokenizedDocument(tokens: promptTokens + tokenizer.encode(completion), firstTarget: max(1, promptTokens.count))
        }
    }
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
    /// A recorded sequence does not hold the forward pass of the sequence's first `rows` tokens.
    case recordMismatch(rows: Int)

    public var description: String {
        switch self {
        case .emptyBatch: "the batch has no sequences"
        case .noTargets: "nothing to predict: every document (or prompt/completion pair) needs two tokens or more"
        case let .sequenceTooLong(length, limit): "a sequence of \(length) tokens exceeds the limit of \(limit)"
        case let .tokenOutOfRange(token, size): "token \(token) outside the vocabulary of \(size)"
        case .configurationMismatch: "the adapter's parameters were made for a different model shape"
        case .emptySequence: "a sequence of the batch has no tokens"
        case let .diverged(epoch, step): "training diverged at epoch \(epoch), step \(step) (the loss or gradient is not finite); lower --learning-rate"
        case let .recordMismatch(rows): "the recorded forward pass does not hold the sequence's first \(rows) tokens"
        }
    }
}
