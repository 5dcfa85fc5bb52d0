import Crypto
import Foundation
import Inference

extension SpanIndex {
    /// Writes the index to `path` (`SpanIndexLayout`): into `<path>.tmp`, flushed to the disk,
    /// then renamed over `path`, so a crash leaves the old file or the new one.
    public func write(to path: String) throws(SpanIndexError) {
        do {
            try DurableFile.replace(path, with: UnsafeRawBufferPointer(storage.bytes))
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// Opens the index at `path`, memory-mapped, after checking all of it: the magic, the
    /// version, that the header's counts describe exactly the file's size, the checksum over
    /// everything after it, and the structure — document starts increasing to the stream's
    /// end, a separator ending each document and nowhere else, and a suffix array holding
    /// every token position once with first tokens in order. Every search then stays inside
    /// the file whatever its suffix order; a forged file with a matching checksum and
    /// mis-sorted suffixes can only give wrong answers, which the proof's recomputation
    /// catches. Costs one read of the file (about 30 ms per million tokens).
    public init(contentsOf path: String) throws(SpanIndexError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            switch error {
            case let .unreadable(_, reason): throw .unreadable(path: path, reason: reason)
            default: throw .malformed(path: path, reason: "the file is empty")
            }
        }
        let bytes = UnsafeRawBufferPointer(start: file.base, count: file.size)
        let layout = try Self.checkedHeader(bytes, path: path)
        self.init(storage: SpanIndexStorage(mappedFile: file, layout: layout))
        try checkStructure(path: path)
    }

    /// The layout the header declares, once the magic, version, sizes and checksum agree.
    private static func checkedHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws(SpanIndexError) -> SpanIndexLayout {
        guard bytes.count >= SpanIndexLayout.headerBytes else {
            throw .malformed(path: path, reason: "\(bytes.count) bytes, shorter than the \(SpanIndexLayout.headerBytes)-byte header")
        }
        guard bytes.prefix(SpanIndexLayout.magic.count).elementsEqual(SpanIndexLayout.magic) else {
            throw .malformed(path: path, reason: "not a span index (bad magic)")
        }
        func integer<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        let version = integer(UInt32.self, at: SpanIndexLayout.versionOffset)
        guard version == SpanIndexLayout.version else { throw .unsupportedVersion(path: path, version: version) }
        guard integer(UInt32.self, at: SpanIndexLayout.reservedOffset) == 0 else { throw .malformed(path: path, reason: "reserved header field is not zero") }
        let documentCount = integer(UInt64.self, at: SpanIndexLayout.documentCountOffset)
        let streamCount = integer(UInt64.self, at: SpanIndexLayout.streamCountOffset)
        let suffixCount = integer(UInt64.self, at: SpanIndexLayout.suffixCountOffset)
        guard let layout = SpanIndexLayout.declared(documentCount: documentCount, streamCount: streamCount, suffixCount: suffixCount, fileBytes: bytes.count) else {
            throw .malformed(path: path, reason: "header counts (\(documentCount) documents, \(streamCount) stream tokens, \(suffixCount) suffixes) do not describe a file of \(bytes.count) bytes")
        }
        let stored = UnsafeRawBufferPointer(rebasing: bytes[SpanIndexLayout.checksumOffset..<SpanIndexLayout.checksummedOffset])
        let actual = Digest.blake2b(UnsafeRawBufferPointer(rebasing: bytes[SpanIndexLayout.checksummedOffset...]))
        guard actual.bytes.elementsEqual(stored) else { throw .checksumMismatch(path: path) }
        return layout
    }

    /// Checks what searches rely on to stay in bounds and to count right (see `init(contentsOf:)`).
    private func checkStructure(path: String) throws(SpanIndexError) {
        let streamCount = storage.layout.streamCount
        guard documentStart(0) == 0, documentStart(documentCount) == streamCount else {
            throw .malformed(path: path, reason: "document starts do not run from 0 to the stream's length \(streamCount)")
        }
        for document in 0..<documentCount {
            let start = documentStart(document), end = documentStart(document + 1)
            guard end > start, end <= streamCount else { throw .malformed(path: path, reason: "document \(document) starts at \(start) and ends at \(end)") }
            guard token(at: end - 1) == SpanIndexLayout.separator else { throw .malformed(path: path, reason: "document \(document) does not end with a separator") }
            for position in start..<(end - 1) where token(at: position) == SpanIndexLayout.separator {
                throw .malformed(path: path, reason: "document \(document) holds a separator at stream position \(position)")
            }
        }
        var seen = [UInt64](repeating: 0, count: (streamCount + 63) / 64)
        var previousFirstToken: UInt32 = 0
        for rank in 0..<tokenCount {
            let position = suffixPosition(rank)
            guard position < streamCount, token(at: position) != SpanIndexLayout.separator else {
                throw .malformed(path: path, reason: "suffix \(rank) is at \(position), not a token position")
            }
            let word = position / 64, bit = UInt64(1) << (position % 64)
            guard seen[word] & bit == 0 else { throw .malformed(path: path, reason: "suffix \(rank) repeats position \(position)") }
            seen[word] |= bit
            guard token(at: position) >= previousFirstToken else { throw .malformed(path: path, reason: "suffix \(rank) is out of order") }
            previousFirstToken = token(at: position)
        }
    }
}
