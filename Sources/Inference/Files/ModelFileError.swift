/// Why a model, tokenizer or weight file could not be read. Every parser in this module
/// reports a malformed, truncated or hostile file with one of these, never by trapping.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or mapped.
    case unreadable(path: String, reason: String)
    /// A read of `length` bytes at `offset` would pass the end (`size`) of what is being read.
    case truncated(what: String, offset: Int, length: Int, size: Int)
    /// The bytes are not the format they claim to be, or break one of its rules.
    case malformed(String)
    /// The file is well formed but uses something this engine does not implement.
    case unsupported(String)
    /// A required entry (metadata key, tensor, config field) is absent.
    case missing(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .truncated(what, offset, length, size):
            "truncated file: \(what) needs \(length) bytes at offset \(offset) but only \(size) are present"
        case let .malformed(message): "malformed file: \(message)"
        case let .unsupported(message): "unsupported: \(message)"
        case let .missing(message): "missing \(message)"
        }
    }
}
