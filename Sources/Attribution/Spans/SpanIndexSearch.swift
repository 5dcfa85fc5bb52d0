/// Binary searches over the suffix array. A pattern is token ids (each at most `Int32.max`,
/// so never the separator); comparing it with a suffix stops at the first difference, which
/// comes at the latest at the separator ending the suffix's document — every stream ends
/// with one, so no read passes the stream.
extension SpanIndex {
    /// How the suffix at stream position `position` compares with `pattern`: negative when it
    /// sorts before, zero when it begins with `pattern`, positive after.
    @inline(__always) func compare(suffixAt position: Int, with pattern: UnsafeBufferPointer<UInt32>) -> Int {
        for offset in 0..<pattern.count {
            let token = token(at: position + offset)
            if token != pattern[offset] { return token < pattern[offset] ? -1 : 1 }
        }
        return 0
    }

    /// Tokens the suffix at `position` shares with the start of `pattern`.
    @inline(__always) func commonLength(suffixAt position: Int, with pattern: UnsafeBufferPointer<UInt32>) -> Int {
        var length = 0
        while length < pattern.count, token(at: position + length) == pattern[length] { length += 1 }
        return length
    }

    /// The first rank whose suffix sorts after `pattern`, a suffix beginning with `pattern`
    /// counting as after it (`matchesAfter`: the first occurrence's rank) or before it (the
    /// rank past the last occurrence).
    func partitionRank(_ pattern: UnsafeBufferPointer<UInt32>, matchesAfter: Bool) -> Int {
        var low = 0, high = tokenCount
        while low < high {
            let middle = (low + high) / 2
            let order = compare(suffixAt: suffixPosition(middle), with: pattern)
            if order < 0 || (order == 0 && !matchesAfter) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The ranks of the suffixes that begin with `pattern`: one per occurrence.
    func suffixRanks(startingWith pattern: UnsafeBufferPointer<UInt32>) -> Range<Int> {
        partitionRank(pattern, matchesAfter: true)..<partitionRank(pattern, matchesAfter: false)
    }

    /// The length of the longest prefix of `pattern` that occurs in the documents: the suffix
    /// sharing most with `pattern` sorts right before or at `pattern`'s insertion point
    /// (Infini-gram's longest-prefix query).
    func longestMatchLength(_ pattern: UnsafeBufferPointer<UInt32>) -> Int {
        let rank = partitionRank(pattern, matchesAfter: true)
        var length = 0
        if rank > 0 { length = commonLength(suffixAt: suffixPosition(rank - 1), with: pattern) }
        if rank < tokenCount { length = max(length, commonLength(suffixAt: suffixPosition(rank), with: pattern)) }
        return length
    }
}
