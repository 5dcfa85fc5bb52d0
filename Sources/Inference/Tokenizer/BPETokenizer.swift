/// Byte-level BPE (GPT-2 family): text is cut by a `PreTokenizer`, each piece is spelled
/// in the byte-level alphabet one byte per symbol, and adjacent symbols are merged in
/// merge-rank order until no ranked pair remains. Special tokens are matched verbatim first.
public struct BPETokenizer: Sendable {
    /// Token strings by id, as the vocabulary spells them.
    public let vocabulary: [String]
    /// Ids of the special (control) tokens, matched whole in text and never merged into.
    public let specialTokenIds: Set<Int32>
    /// How text is cut before merging.
    public let preTokenizer: PreTokenizer
    /// Beginning-of-sequence token, if the model has one.
    public let bosTokenId: Int32?
    /// End-of-sequence token, if the model has one.
    public let eosTokenId: Int32?
    /// Whether prompts should start with `bosTokenId`.
    public let addsBOS: Bool

    private let bytesOfToken: [[UInt8]]
    private let tokenForByte: [Int32]
    private let merges: [UInt64: Merge]
    private let specialTokens: SpecialTokenMatcher

    struct Merge: Sendable {
        let rank: Int32
        let result: Int32
    }

    /// Builds a tokenizer from a vocabulary and merge list ("left right", in rank order).
    public init(
        vocabulary: [String], merges mergeList: [(String, String)], specialTokenIds: Set<Int32>,
        preTokenizer: PreTokenizer, bosTokenId: Int32?, eosTokenId: Int32?, addsBOS: Bool
    ) throws(ModelFileError) {
        guard !vocabulary.isEmpty, vocabulary.count <= Int(Int32.max) else { throw .malformed("tokenizer vocabulary size \(vocabulary.count)") }
        for id in [bosTokenId, eosTokenId].compactMap({ $0 }) + Array(specialTokenIds) {
            guard id >= 0, Int(id) < vocabulary.count else { throw .malformed("token id \(id) is outside the vocabulary") }
        }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (id, token) in vocabulary.enumerated() where ids[token] == nil { ids[token] = Int32(id) }

        // Vocabularies may lack bytes that never occur in UTF-8 text; those map to -1.
        let tokenForByte = (0..<256).map { ids[String(ByteLevelAlphabet.scalarForByte[$0])] ?? -1 }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (left, right)) in mergeList.enumerated() {
            guard let leftId = ids[left], let rightId = ids[right], let result = ids[left + right] else {
                throw .malformed("merge '\(left) \(right)' uses tokens outside the vocabulary")
            }
            let key = UInt64(UInt32(leftId)) << 32 | UInt64(UInt32(rightId))
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), result: result) }
        }

        self.vocabulary = vocabulary
        self.specialTokenIds = specialTokenIds
        self.preTokenizer = preTokenizer
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.addsBOS = addsBOS
        self.tokenForByte = tokenForByte
        self.merges = merges
        self.bytesOfToken = vocabulary.enumerated().map { id, token in
            specialTokenIds.contains(Int32(id)) ? Array(token.utf8) : ByteLevelAlphabet.bytes(of: token) ?? Array(token.utf8)
        }
        self.specialTokens = SpecialTokenMatcher(specialTokenIds.map { ($0, vocabulary[Int($0)]) })
    }

    /// The id of the special token spelled `spelling`, if there is one.
    public func specialTokenId(_ spelling: String) -> Int32? {
        specialTokenIds.first { vocabulary[Int($0)] == spelling }
    }

    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { vocabulary.count }

    /// Token ids of `text`. With `parsingSpecialTokens`, spellings of special tokens such
    /// as `<|im_start|>` become those tokens; otherwise they are ordinary text. No BOS is added.
    public func encode(_ text: String, parsingSpecialTokens: Bool = true) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int32] = []
        let segments = parsingSpecialTokens ? specialTokens.segments(of: scalars) : [.text(scalars[...])]
        for segment in segments {
            switch segment {
            case let .special(id): ids.append(id)
            case let .text(slice):
                for piece in preTokenizer.split(slice) {
                    encodePiece(Array(String(String.UnicodeScalarView(piece)).utf8), into: &ids)
                }
            }
        }
        return ids
    }

    /// The bytes that `ids` stand for (special tokens as their spelling). Ids outside the
    /// vocabulary contribute nothing.
    public func decode(_ ids: some Sequence<Int32>) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < bytesOfToken.count { bytes += bytesOfToken[Int(id)] }
        return bytes
    }

    /// `decode` as text, with invalid UTF-8 replaced by U+FFFD.
    public func decodeText(_ ids: some Sequence<Int32>) -> String {
        String(decoding: decode(ids), as: UTF8.self)
    }

    /// Merges the byte symbols of one piece, lowest rank first (leftmost among equals).
    /// Bytes the vocabulary cannot spell are dropped, as the reference tokenizer does.
    private func encodePiece(_ bytes: [UInt8], into ids: inout [Int32]) {
        var symbols = bytes.map { tokenForByte[Int($0)] }.filter { $0 >= 0 }
        guard symbols.count > 1 else { return ids += symbols }
        var next = Array(1...symbols.count)
        var previous = Array(-1..<(symbols.count - 1))
        var queue = MinHeap()
        func enqueue(_ left: Int) {
            let right = next[left]
            guard right < symbols.count else { return }
            let key = UInt64(UInt32(symbols[left])) << 32 | UInt64(UInt32(symbols[right]))
            if let merge = merges[key] {
                queue.push(MinHeap.Entry(rank: merge.rank, position: Int32(left), left: symbols[left], right: symbols[right]))
            }
        }
        for position in 0..<(symbols.count - 1) { enqueue(position) }
        while let entry = queue.pop() {
            let left = Int(entry.position)
            let right = next[left]
            // Skip entries made stale by an earlier merge of either symbol.
            guard symbols[left] == entry.left, right < symbols.count, symbols[right] == entry.right else { continue }
            let key = UInt64(UInt32(entry.left)) << 32 | UInt64(UInt32(entry.right))
            symbols[left] = merges[key]!.result
            symbols[right] = -1
            next[left] = next[right]
            if next[left] < symbols.count { previous[next[left]] = left }
            if previous[left] >= 0 { enqueue(previous[left]) }
            enqueue(left)
        }
        var position = 0
        while position < symbols.count {
            ids.append(symbols[position])
            position = next[position]
        }
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct MinHeap {
    struct Entry {
        let rank: Int32
        let position: Int32
        let left: Int32
        let right: Int32

        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
                if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
