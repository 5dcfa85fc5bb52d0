import Crypto
import Foundation

extension SpanIndex {
    /// Builds the index of `documents`, each a document's token ids (in datanet order; the
    /// index answers with positions in this array). An empty document is kept, matching
    /// nothing, so positions stay aligned with the datanet. Build time is dominated by the
    /// suffix sort (`SuffixSorting`); peak memory is the 8-byte-per-token index plus the
    /// sort's temporary (10 bytes per token at 2-byte codes).
    public init(documents: [[Int32]]) throws(SpanIndexError) {
        var streamCount = 0
        var largestToken: Int32 = 0
        for (document, tokens) in documents.enumerated() {
            for (position, token) in tokens.enumerated() {
                guard token >= 0 else { throw .invalidToken(document: document, position: position, token: token) }
                largestToken = max(largestToken, token)
            }
            streamCount += tokens.count + 1
        }
        let codeWidth = SuffixSorting.codeWidth(largestToken: UInt32(largestToken))
        let streamCountMax = min(SpanIndexLayout.streamCountMax, SuffixSorting.streamCountMax(codeWidth: codeWidth))
        guard streamCount <= streamCountMax else { throw .tooLarge(streamTokens: streamCount, streamTokensMax: streamCountMax) }

        let layout = SpanIndexLayout(documentCount: documents.count, streamCount: streamCount)
        let image = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.totalBytes, alignment: 8)
        do {
            try Self.fill(image, layout: layout, documents: documents, codeWidth: codeWidth)
        } catch {
            image.deallocate()
            throw error
        }
        self.init(storage: SpanIndexStorage(allocation: image, layout: layout))
    }

    /// Writes the whole image: header, document starts, stream, sorted suffixes, checksum.
    private static func fill(_ image: UnsafeMutableRawBufferPointer, layout: SpanIndexLayout, documents: [[Int32]], codeWidth: Int) throws(SpanIndexError) {
        let base = image.baseAddress!
        image.copyBytes(from: SpanIndexLayout.magic)
        image.storeBytes(of: SpanIndexLayout.version.littleEndian, toByteOffset: SpanIndexLayout.versionOffset, as: UInt32.self)
        image.storeBytes(of: UInt32(0), toByteOffset: SpanIndexLayout.reservedOffset, as: UInt32.self)
        image.storeBytes(of: UInt64(layout.documentCount).littleEndian, toByteOffset: SpanIndexLayout.documentCountOffset, as: UInt64.self)
        image.storeBytes(of: UInt64(layout.streamCount).littleEndian, toByteOffset: SpanIndexLayout.streamCountOffset, as: UInt64.self)
        image.storeBytes(of: UInt64(layout.suffixCount).littleEndian, toByteOffset: SpanIndexLayout.suffixCountOffset, as: UInt64.self)

        let starts = (base + layout.documentStartsOffset).bindMemory(to: UInt32.self, capacity: layout.documentCount + 1)
        let stream = (base + layout.streamOffset).bindMemory(to: UInt32.self, capacity: layout.streamCount)
        var position = 0
        for (document, tokens) in documents.enumerated() {
            starts[document] = UInt32(position).littleEndian
            for token in tokens {
                stream[position] = UInt32(token).littleEndian
                position += 1
            }
            stream[position] = SpanIndexLayout.separator.littleEndian
            position += 1
        }
        starts[layout.documentCount] = UInt32(position).littleEndian
        assert(position == layout.streamCount)

        let suffixes = (base + layout.suffixesOffset).bindMemory(to: UInt32.self, capacity: layout.suffixCount)
        try SuffixSorting.sort(
            stream: UnsafeBufferPointer(start: stream, count: layout.streamCount),
            into: UnsafeMutableBufferPointer(start: suffixes, count: layout.suffixCount), codeWidth: codeWidth)

        let checksum = Digest.blake2b(UnsafeRawBufferPointer(rebasing: image[SpanIndexLayout.checksummedOffset...]))
        checksum.bytes32.withUnsafeBytes { digest in
            UnsafeMutableRawBufferPointer(rebasing: image[SpanIndexLayout.checksumOffset..<SpanIndexLayout.checksummedOffset]).copyMemory(from: digest)
        }
    }
}
