/// Where everything lies in a span index's bytes — the same image in memory and on disk, all
/// integers little-endian, every section 4-byte aligned:
///
/// | offset | bytes | field |
/// | --- | --- | --- |
/// | 0 | 8 | magic `TRBSPANS` |
/// | 8 | 4 | format version (1) |
/// | 12 | 4 | zero |
/// | 16 | 32 | BLAKE2b-256 of every byte from offset 48 to the end |
/// | 48 | 8 | document count D |
/// | 56 | 8 | stream length S: the documents' tokens plus one separator after each |
/// | 64 | 8 | suffix count, S − D |
/// | 72 | 4·(D+1) | each document's first stream position, then S |
/// | … | 4·S | the token stream: token ids, `separator` after every document |
/// | … | 4·(S−D) | the suffix array: the stream positions of all tokens, in suffix order |
struct SpanIndexLayout: Equatable {
    static let magic: [UInt8] = Array("TRBSPANS".utf8)
    static let version: UInt32 = 1
    static let versionOffset = 8
    static let reservedOffset = 12
    static let checksumOffset = 16
    /// The first byte the checksum covers: the counts and all sections.
    static let checksummedOffset = 48
    static let documentCountOffset = 48
    static let streamCountOffset = 56
    static let suffixCountOffset = 64
    static let headerBytes = 72
    /// The stream's document separator; it sorts after every token.
    static let separator = UInt32.max
    /// Longest stream: positions are stored as `UInt32`, below the separator's value.
    static let streamCountMax = Int(UInt32.max - 1)

    /// D.
    let documentCount: Int
    /// S: tokens plus separators.
    let streamCount: Int

    /// S − D: one suffix per token.
    var suffixCount: Int { streamCount - documentCount }
    var documentStartsOffset: Int { Self.headerBytes }
    var streamOffset: Int { documentStartsOffset + 4 * (documentCount + 1) }
    var suffixesOffset: Int { streamOffset + 4 * streamCount }
    var totalBytes: Int { suffixesOffset + 4 * suffixCount }

    init(documentCount: Int, streamCount: Int) {
        precondition(documentCount >= 0 && documentCount <= streamCount && streamCount <= Self.streamCountMax)
        self.documentCount = documentCount
        self.streamCount = streamCount
    }

    /// The layout a header declares, if its counts are consistent and describe exactly
    /// `fileBytes` bytes.
    static func declared(documentCount: UInt64, streamCount: UInt64, suffixCount: UInt64, fileBytes: Int) -> SpanIndexLayout? {
        guard streamCount <= UInt64(streamCountMax), documentCount <= streamCount, suffixCount == streamCount - documentCount else { return nil }
        let layout = SpanIndexLayout(documentCount: Int(documentCount), streamCount: Int(streamCount))
        return layout.totalBytes == fileBytes ? layout : nil
    }
}
