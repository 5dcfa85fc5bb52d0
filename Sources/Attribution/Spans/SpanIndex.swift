import Crypto

/// A token-level suffix array over a datanet (Infini-gram style: Liu et al., "Infini-gram:
/// Scaling Unbounded n-gram Language Models to a Trillion Tokens", 2024): the documents'
/// token ids end to end with a separator after each, and the start of every token's suffix
/// in sorted order. Any token sequence's occurrences are then one contiguous run of the
/// suffix array, found by binary search in O(length · log tokens).
///
/// The separator sorts after every token and no query holds it, so no match crosses a
/// document boundary. Memory: 8 bytes per token (stream and suffix array) plus 8 per
/// document, whether built (`init(documents:)`) or read (`init(contentsOf:)`, memory-mapped).
/// The bytes are the file's image, `SpanIndexLayout`.
public struct SpanIndex: Sendable {
    let storage: SpanIndexStorage

    init(storage: SpanIndexStorage) { self.storage = storage }

    /// Documents indexed, in the order given to the builder (a datanet's file order).
    public var documentCount: Int { storage.layout.documentCount }
    /// Tokens indexed, over all documents (separators not counted).
    public var tokenCount: Int { storage.layout.suffixCount }
    /// Size of the index, in memory and as a file.
    public var byteCount: Int { storage.layout.totalBytes }
    /// BLAKE2b-256 of the index's counts and sections, as its header records: equal digests
    /// mean equal indexes.
    public var digest: Digest {
        let bytes = UnsafeRawBufferPointer(rebasing: storage.bytes[SpanIndexLayout.checksumOffset..<SpanIndexLayout.checksummedOffset])
        return Digest(Bytes32(filling: { $0.copyMemory(from: bytes) }))
    }

    /// The tokens of document `document`.
    public func tokens(ofDocument document: Int) -> [Int32] {
        precondition(document >= 0 && document < documentCount, "document \(document) outside 0..<\(documentCount)")
        return (documentStart(document)..<(documentStart(document + 1) - 1)).map { Int32(bitPattern: token(at: $0)) }
    }

    /// How many times `tokens` occurs in the documents (0 for an empty or negative-id query).
    public func occurrenceCount(of tokens: [Int32]) -> Int {
        guard !tokens.isEmpty, tokens.allSatisfy({ $0 >= 0 }) else { return 0 }
        return tokens.map { UInt32($0) }.withUnsafeBufferPointer { suffixRanks(startingWith: $0).count }
    }

    // MARK: Raw access

    /// Token or separator at stream position `position`.
    @inline(__always) func token(at position: Int) -> UInt32 {
        UInt32(littleEndian: storage.stream[position])
    }

    /// Stream position of the suffix of rank `rank`.
    @inline(__always) func suffixPosition(_ rank: Int) -> Int {
        Int(UInt32(littleEndian: storage.suffixes[rank]))
    }

    /// First stream position of `document`; `documentStart(documentCount)` is the stream length.
    @inline(__always) func documentStart(_ document: Int) -> Int {
        Int(UInt32(littleEndian: storage.documentStarts[document]))
    }

    /// The document whose tokens include stream position `position`.
    func document(containing position: Int) -> Int {
        assert(position >= 0 && position < storage.layout.streamCount)
        var low = 0, high = documentCount  // documentStart(low) <= position < documentStart(high)
        while high - low > 1 {
            let middle = (low + high) / 2
            if documentStart(middle) <= position { low = middle } else { high = middle }
        }
        return low
    }
}
