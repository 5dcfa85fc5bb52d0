/// Why a span index could not be built, read or written. A malformed, truncated or damaged
/// file is reported with one of these, never by trapping.
public enum SpanIndexError: Error, Equatable, CustomStringConvertible {
    /// A document holds a negative token id (`document`, `position` in its tokens).
    case invalidToken(document: Int, position: Int, token: Int32)
    /// The datanet is too large for 32-bit suffix positions or for libdivsufsort's 32-bit sort.
    case tooLarge(streamTokens: Int, streamTokensMax: Int)
    /// libdivsufsort reported an error (its return code).
    case sortFailed(code: Int32)
    /// The file could not be opened or mapped.
    case unreadable(path: String, reason: String)
    /// The file is not a span index, or breaks one of the format's rules.
    case malformed(path: String, reason: String)
    /// The file is a span index of a version this build does not read.
    case unsupportedVersion(path: String, version: UInt32)
    /// The file's bytes do not hash to the checksum in its header.
    case checksumMismatch(path: String)
    /// Writing the file failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidToken(document, position, token): "document \(document) has the negative token id \(token) at token \(position)"
        case let .tooLarge(tokens, limit): "the datanet's token stream (\(tokens) tokens and separators) exceeds the span index's limit of \(limit)"
        case let .sortFailed(code): "libdivsufsort failed (code \(code))"
        case let .unreadable(path, reason): "cannot read span index \(path): \(reason)"
        case let .malformed(path, reason): "malformed span index \(path): \(reason)"
        case let .unsupportedVersion(path, version): "span index \(path) has version \(version); this build reads version \(SpanIndexLayout.version)"
        case let .checksumMismatch(path): "span index \(path) is damaged: its contents do not match its checksum"
        case let .writeFailed(path, reason): "cannot write span index \(path): \(reason)"
        }
    }
}
