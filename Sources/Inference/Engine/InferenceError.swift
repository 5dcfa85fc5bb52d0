/// Why the engine refused a request. The model and every cache are unchanged afterwards.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    case tokenOutOfRange(Int32, vocabularySize: Int)
    /// The sequence would grow past the model's context length.
    case contextFull(length: Int, limit: Int)
    /// A request had no tokens.
    case emptyRequest
    /// The same cache appeared twice in one batch.
    case repeatedSequence
    /// The named adapter was built for a model of another shape.
    case adapterMismatch(String)

    public var description: String {
        switch self {
        case let .tokenOutOfRange(token, size): "token id \(token) is outside the vocabulary of \(size)"
        case let .contextFull(length, limit): "a sequence of \(length) tokens exceeds the context length \(limit)"
        case .emptyRequest: "a request has no tokens"
        case .repeatedSequence: "one sequence appears twice in a batch"
        case let .adapterMismatch(name): "adapter \(name) was built for a model of another shape"
        }
    }
}
