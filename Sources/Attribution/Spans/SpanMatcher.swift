/// Finds the spans of a completion that occur verbatim in a datanet, as OLMoTrace does (Liu et
/// al., "OLMoTrace: Tracing Language Model Outputs Back to Trillions of Training Tokens",
/// 2025, §3 step 1, and infini-gram's `attribute` with `enforce_bow`):
///
/// 1. From every position that starts a word, the longest prefix of the rest of the
///    completion that occurs in the datanet (one binary search), shortened until it ends
///    before a token that starts a word or at the completion's end.
/// 2. Spans shorter than `minTokens` are dropped, and so is each span ending no later than an
///    earlier one, which contains it: what remains are the maximal spans.
/// 3. Spans occurring more than `occurrencesMax` times are dropped (OLMoTrace's "unique").
///    Order does not matter here: a span inside another occurs at least as often.
/// 4. The rest are ranked by rarity: fewer occurrences first, then longer, then earlier.
///
/// Position 0 counts as a word start: the completion is tokenized on its own, so its first
/// token begins a piece whatever it spells. Token ids outside the `startsWord` table, or
/// negative, count as word starts; a negative id is never matched, so no span holds one.
///
/// Where this departs from OLMoTrace, and why: OLMoTrace also cuts spans at sentence
/// delimiters and keeps only the ⌈0.05·L⌉ spans of lowest unigram probability (the product of
/// the tokens' relative frequencies in the corpus), for display. Here a verbatim copy across
/// sentences is one piece of evidence and is reported whole, and the ranking uses exact
/// integers (occurrences, length, position) instead of a floating-point probability, so that
/// another node recomputing a proof gets the same order bit for bit; no span is dropped for
/// density (the caller may cut the ranked list). Occurrences stand in for rarity: OLMoTrace's
/// corpus is so large that nearly every long span occurs once, while a datanet is small
/// enough to count exactly.
public struct SpanMatcher: Sendable {
    public let index: SpanIndex
    /// Per token id of the vocabulary, whether the token begins a word (`WordStarts`).
    public let startsWord: [Bool]
    public let rules: SpanRules

    public init(index: SpanIndex, startsWord: [Bool], rules: SpanRules = SpanRules()) {
        self.index = index
        self.startsWord = startsWord
        self.rules = rules
    }

    /// The maximal spans of `completion` found in the datanet, ranked (see the type), each
    /// with its text from `decode`.
    public func spans(of completion: [Int32], decode: (ArraySlice<Int32>) -> String) -> [MatchedSpan] {
        let pattern = completion.map { UInt32(truncatingIfNeeded: $0) }
        return pattern.withUnsafeBufferPointer { pattern in
            var ranked: [(span: Range<Int>, ranks: Range<Int>)] = []
            for span in maximalSpans(of: completion, pattern: pattern) {
                let ranks = index.suffixRanks(startingWith: UnsafeBufferPointer(rebasing: pattern[span]))
                assert(!ranks.isEmpty, "a matched span occurs")
                if ranks.count <= rules.occurrencesMax { ranked.append((span, ranks)) }
            }
            ranked.sort { a, b in
                if a.ranks.count != b.ranks.count { return a.ranks.count < b.ranks.count }
                if a.span.count != b.span.count { return a.span.count > b.span.count }
                return a.span.lowerBound < b.span.lowerBound
            }
            return ranked.map { span, ranks in
                let documents = Set(ranks.map { index.document(containing: index.suffixPosition($0)) }).sorted()
                return MatchedSpan(
                    text: decode(completion[span]), startToken: span.lowerBound, endToken: span.upperBound,
                    documents: Array(documents.prefix(rules.documentsMax)), count: ranks.count)
            }
        }
    }

    /// Steps 1 and 2: the longest word-bounded match from each word start, keeping those of
    /// `minTokens` or more that reach past every earlier one, in completion order.
    private func maximalSpans(of completion: [Int32], pattern: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
        let count = completion.count
        // Where the matchable run from each position ends: the next negative id, or the end.
        var runEnds = [Int](repeating: count, count: count)
        var runEnd = count
        for position in (0..<count).reversed() {
            if completion[position] < 0 { runEnd = position }
            runEnds[position] = runEnd
        }
        var spans: [Range<Int>] = []
        for start in 0..<count where start < runEnds[start] && (start == 0 || beginsWord(completion[start])) {
            var end = start + index.longestMatchLength(UnsafeBufferPointer(rebasing: pattern[start..<runEnds[start]]))
            while end > start, end < count, !beginsWord(completion[end]) { end -= 1 }
            if end - start >= rules.minTokens, end > (spans.last?.upperBound ?? 0) { spans.append(start..<end) }
        }
        return spans
    }

    @inline(__always) private func beginsWord(_ token: Int32) -> Bool {
        token < 0 || Int(token) >= startsWord.count || startsWord[Int(token)]
    }
}
