import Attribution
import Inference
import Testing

@Suite struct SpanMatcherTests {
    /// Token ids as text, so a span's text shows which tokens it holds.
    static func spelled(_ tokens: ArraySlice<Int32>) -> String { tokens.map { "<\($0)>" }.joined() }

    /// Random small datanets over a tiny vocabulary (many repeats) and completions stitched
    /// from random tokens, copied runs of documents (sometimes across two documents), negative
    /// ids and ids outside the word table: the matcher agrees with the exhaustive definition.
    @Test func agreesWithExhaustiveSearchOnRandomDatanets() throws {
        for seed in UInt64(1)...400 {
            var random = SplitMix64(seed: seed)
            let vocabularySize = Int.random(in: 2...10, using: &random)
            let startsWord = (0..<vocabularySize).map { _ in Int.random(in: 0..<3, using: &random) > 0 }
            let documents: [[Int32]] = (0..<Int.random(in: 0...7, using: &random)).map { _ in
                (0..<Int.random(in: 0...30, using: &random)).map { _ in Int32.random(in: 0..<Int32(vocabularySize), using: &random) }
            }
            var completion: [Int32] = []
            let stream = Array(documents.joined())
            let length = Int.random(in: 0...36, using: &random)
            while completion.count < length {
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5 where !stream.isEmpty:
                    let start = Int.random(in: 0..<stream.count, using: &random)
                    completion += stream[start..<min(stream.count, start + Int.random(in: 1...12, using: &random))]
                case 5: completion.append(Int32.random(in: -2 ... -1, using: &random))
                case 6: completion.append(Int32(vocabularySize + Int.random(in: 0...2, using: &random)))
                default: completion.append(Int32.random(in: 0..<Int32(vocabularySize), using: &random))
                }
            }
            let rules = SpanRules(
                minTokens: Int.random(in: 1...5, using: &random), occurrencesMax: Int.random(in: 1...8, using: &random),
                documentsMax: Int.random(in: 1...4, using: &random))
            let matcher = SpanMatcher(index: try SpanIndex(documents: documents), startsWord: startsWord, rules: rules)
            let found = matcher.spans(of: completion, decode: Self.spelled)
            let expected = ReferenceSpans(documents: documents).spans(of: completion, startsWord: startsWord, rules: rules)
            #expect(found.map(ReferenceSpans.Span.init) == expected, "seed \(seed): completion \(completion), documents \(documents)")
            for span in found {
                #expect(span.text == Self.spelled(completion[span.startToken..<span.endToken]))
            }
        }
    }

    /// Tokens 0…3 begin words, 4…7 continue them. A span starts at a word start and ends
    /// before one (or at the completion's end), so a match that stops inside a word is cut
    /// back to the last whole word.
    @Test func spansStartAndEndAtWords() throws {
        let startsWord = (0..<8).map { $0 < 4 }
        let document: [Int32] = [0, 4, 1, 5, 5, 2, 6, 3, 7]
        let matcher = SpanMatcher(index: try SpanIndex(documents: [document]), startsWord: startsWord, rules: SpanRules(minTokens: 1))
        // The match [0 4 1 5 5 2] continues into `6` in the document, but here `2` is followed by
        // `4`, a continuation: the word `2 …` is not whole, so the span ends before `2`.
        let cut = matcher.spans(of: [0, 4, 1, 5, 5, 2, 4], decode: Self.spelled)
        #expect(cut.map(ReferenceSpans.Span.init) == [.init(start: 0, end: 5, count: 1, documents: [0])])
        // No span starts inside a word (at `4`, though `4 1 5 5 2 6` is in the document): the
        // longest starts at the next word, `1`.
        let inside = matcher.spans(of: [3, 4, 1, 5, 5, 2, 6, 0], decode: Self.spelled)
        #expect(inside.map(ReferenceSpans.Span.init) == [
            .init(start: 2, end: 7, count: 1, documents: [0]), .init(start: 7, end: 8, count: 1, documents: [0]),
        ])
        // …except at the completion's first token, which starts a piece of its own.
        let first = matcher.spans(of: [5, 2, 6, 3, 7], decode: Self.spelled)
        #expect(first.map(ReferenceSpans.Span.init) == [.init(start: 0, end: 5, count: 1, documents: [0])])
        // The completion's end is a word end, though the document's word goes on (`5 5`).
        let end = matcher.spans(of: [0, 4, 1, 5], decode: Self.spelled)
        #expect(end.map(ReferenceSpans.Span.init) == [.init(start: 0, end: 4, count: 1, documents: [0])])
    }

    /// Eleven documents share a phrase; one of them continues it. With the default cutoff (10)
    /// the shared phrase is dropped as too frequent and only the longer, rarer one remains; at 11
    /// it is kept. The shorter spans inside the long one are never reported.
    @Test func dropsSpansMoreFrequentThanTheCutoff() throws {
        let startsWord = [Bool](repeating: true, count: 20)
        let phrase: [Int32] = [1, 2, 3, 4, 5, 6]
        var documents = (0..<10).map { [Int32(10 + $0 % 5)] + phrase + [9] }
        documents.append(phrase + [7, 8, 9])
        let completion: [Int32] = [0] + phrase + [7, 8, 0]
        let strict = SpanMatcher(index: try SpanIndex(documents: documents), startsWord: startsWord)
        let spans = strict.spans(of: completion, decode: Self.spelled)
        #expect(spans.map(ReferenceSpans.Span.init) == [.init(start: 1, end: 9, count: 1, documents: [10])])

        let lenient = SpanMatcher(index: strict.index, startsWord: startsWord, rules: SpanRules(minTokens: 6, occurrencesMax: 11))
        #expect(lenient.spans(of: [0] + phrase + [0], decode: Self.spelled).map(ReferenceSpans.Span.init)
            == [.init(start: 1, end: 7, count: 11, documents: Array(0..<10))])
        #expect(strict.spans(of: [0] + phrase + [0], decode: Self.spelled).isEmpty)
    }

    /// The separator ends every document: a completion spelling the end of one document and the
    /// start of the next gets two spans, never one across the boundary.
    @Test func noSpanCrossesADocumentBoundary() throws {
        let documents: [[Int32]] = [[1, 2, 3], [4, 5, 6], [], [7]]
        let index = try SpanIndex(documents: documents)
        let matcher = SpanMatcher(index: index, startsWord: [Bool](repeating: true, count: 8), rules: SpanRules(minTokens: 1))
        let spans = matcher.spans(of: [1, 2, 3, 4, 5, 6, 7], decode: Self.spelled)
        #expect(spans.map(ReferenceSpans.Span.init) == [
            .init(start: 0, end: 3, count: 1, documents: [0]),
            .init(start: 3, end: 6, count: 1, documents: [1]),
            .init(start: 6, end: 7, count: 1, documents: [3]),
        ])
        #expect(index.occurrenceCount(of: [3, 4]) == 0)
        #expect(index.occurrenceCount(of: [6, 7]) == 0)
        #expect(index.occurrenceCount(of: [7]) == 1)
    }

    /// Rarer first, then longer, then earlier; documents deduplicated, ascending, capped.
    @Test func ranksByRarityThenLengthThenPosition() throws {
        let documents: [[Int32]] = [
            [1, 2, 3, 0, 1, 2, 3],  // twice in one document
            [1, 2, 3, 9],
            [4, 5, 6, 7],
            [8, 9, 10],
            [8, 9, 10],
        ]
        let matcher = SpanMatcher(
            index: try SpanIndex(documents: documents), startsWord: [Bool](repeating: true, count: 12),
            rules: SpanRules(minTokens: 3, documentsMax: 1))
        let spans = matcher.spans(of: [8, 9, 10, 11, 1, 2, 3, 11, 4, 5, 6, 7], decode: Self.spelled)
        #expect(spans.map(ReferenceSpans.Span.init) == [
            .init(start: 8, end: 12, count: 1, documents: [2]),
            .init(start: 0, end: 3, count: 2, documents: [3]),
            .init(start: 4, end: 7, count: 3, documents: [0]),
        ])
        #expect(spans[0].json(documentIDs: ["a", "b", "c", "d", "e"])["docs"] as? [String] == ["c"])
    }
}
