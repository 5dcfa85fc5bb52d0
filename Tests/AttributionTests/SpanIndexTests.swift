import Attribution
import Inference
import Testing

@Suite struct SpanIndexTests {
    /// The suffix sort encodes tokens as 1-, 2-, 3- or 4-byte codes depending on the largest
    /// id; for each width, every substring of the documents (and some absent sequences) is
    /// counted as a scan counts it, which holds only if the suffixes are in token order.
    @Test(arguments: [
        (Int32(0), Int32(3)), (0, 254), (200, 300), (65_500, 65_534), (65_533, 65_600),
        (16_777_200, 16_777_214), (16_777_200, 16_777_300), (Int32.max - 4, Int32.max),
    ])
    func countsEveryOccurrenceAtEveryCodeWidth(range: (Int32, Int32)) throws {
        for seed in UInt64(1)...20 {
            var random = SplitMix64(seed: seed)
            // Few distinct ids, so sequences repeat; near the range's ends, where codes carry 0xFF bytes.
            let alphabet = (0..<3).map { _ in Int32.random(in: range.0...range.1, using: &random) } + [range.0, range.1]
            let documents: [[Int32]] = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                (0..<Int.random(in: 0...25, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            }
            let index = try SpanIndex(documents: documents)
            let reference = ReferenceSpans(documents: documents)
            #expect(index.documentCount == documents.count)
            #expect(index.tokenCount == documents.map(\.count).reduce(0, +))
            for (number, document) in documents.enumerated() {
                #expect(index.tokens(ofDocument: number) == document)
                for start in document.indices {
                    for end in (start + 1)...min(document.count, start + 6) {
                        let tokens = Array(document[start..<end])
                        #expect(index.occurrenceCount(of: tokens) == reference.occurrences(of: tokens[...]).count, "seed \(seed), \(tokens)")
                    }
                }
            }
            for _ in 0..<20 {
                let tokens = (0..<Int.random(in: 1...4, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
                #expect(index.occurrenceCount(of: tokens) == reference.occurrences(of: tokens[...]).count, "seed \(seed), \(tokens)")
            }
        }
    }

    @Test func rejectsNegativeTokenIds() {
        #expect(throws: SpanIndexError.invalidToken(document: 1, position: 2, token: -7)) {
            try SpanIndex(documents: [[1, 2], [3, 4, -7]])
        }
    }

    /// A datanet with no tokens still makes an index, which matches nothing.
    @Test func indexesEmptyDatanets() throws {
        for documents in [[], [[]], [[], []]] as [[[Int32]]] {
            let index = try SpanIndex(documents: documents)
            #expect(index.tokenCount == 0 && index.documentCount == documents.count)
            #expect(index.occurrenceCount(of: [0]) == 0)
            let matcher = SpanMatcher(index: index, startsWord: [true], rules: SpanRules(minTokens: 1))
            #expect(matcher.spans(of: [0, 0, 0], decode: { _ in "" }).isEmpty)
        }
    }

    /// Equal documents give byte-identical indexes (the digest names the contents).
    @Test func digestFollowsTheContents() throws {
        let a = try SpanIndex(documents: [[1, 2, 3], [4]])
        let b = try SpanIndex(documents: [[1, 2, 3], [4]])
        let c = try SpanIndex(documents: [[1, 2, 3, 4]])
        #expect(a.digest == b.digest)
        #expect(a.digest != c.digest)
        #expect(a.byteCount == 72 + 4 * 3 + 4 * 6 + 4 * 4)
    }
}
