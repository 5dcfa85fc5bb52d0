import Attribution
import Foundation
import Inference
import Testing

/// Issue 21's target: span lookup ≤ 10 ms on a 1M-token datanet.
@Suite struct SpanSpeedTests {
    static let vocabularySize = 49_152
    static let documentTokens = 250
    static let documentCount = 4_000

    /// Zipf-distributed token ids (frequency ∝ 1/rank), as words in text are.
    struct ZipfTokens {
        let cumulative: [Double]

        init(vocabularySize: Int) {
            var total = 0.0
            cumulative = (1...vocabularySize).map { rank in
                total += 1 / Double(rank)
                return total
            }
        }

        func next(using random: inout SplitMix64) -> Int32 {
            let target = Double.random(in: 0..<cumulative.last!, using: &random)
            var low = 0, high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] <= target { low = middle + 1 } else { high = middle }
            }
            return Int32(low)
        }
    }

    /// A million Zipf tokens in 4,000 documents. Two 128-token completions: four 24-token runs
    /// copied from documents between random tokens, and one copied whole from a document (the
    /// longest comparisons). The median of nine lookups of each must be within 10 ms, and the
    /// copied runs must be found.
    @Test func findsSpansOfA128TokenCompletionInAMillionTokensWithin10ms() throws {
        var random = SplitMix64(seed: 21)
        let zipf = ZipfTokens(vocabularySize: Self.vocabularySize)
        let documents = (0..<Self.documentCount).map { _ in (0..<Self.documentTokens).map { _ in zipf.next(using: &random) } }
        let startsWord = (0..<Self.vocabularySize).map { _ in Double.random(in: 0..<1, using: &random) < 0.6 }

        var mixed: [Int32] = []
        var copiedFrom: Set<Int> = []
        for _ in 0..<4 {
            mixed += (0..<8).map { _ in zipf.next(using: &random) }
            let document = Int.random(in: 0..<Self.documentCount, using: &random)
            let start = Int.random(in: 0...(Self.documentTokens - 24), using: &random)
            mixed += documents[document][start..<(start + 24)]
            copiedFrom.insert(document)
        }
        let verbatimDocument = Int.random(in: 0..<Self.documentCount, using: &random)
        let verbatim = Array(documents[verbatimDocument][50..<178])
        #expect(mixed.count == 128 && verbatim.count == 128)

        let clock = ContinuousClock()
        let buildStart = clock.now
        let index = try SpanIndex(documents: documents)
        let buildTime = clock.now - buildStart
        #expect(index.tokenCount == 1_000_000)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-spans-speed-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writeStart = clock.now
        try index.write(to: path)
        let writeTime = clock.now - writeStart
        let readStart = clock.now
        let read = try SpanIndex(contentsOf: path)
        let readTime = clock.now - readStart

        let matcher = SpanMatcher(index: read, startsWord: startsWord)
        func timed(_ completion: [Int32]) -> (spans: [MatchedSpan], median: Duration, first: Duration) {
            var spans: [MatchedSpan] = []
            let times = (0..<9).map { _ in
                let start = clock.now
                spans = matcher.spans(of: completion, decode: { "\($0.count) tokens" })
                return clock.now - start
            }
            return (spans, times.sorted()[4], times[0])
        }
        let mixedLookup = timed(mixed), verbatimLookup = timed(verbatim)
        print("""
            span index: \(index.tokenCount) tokens, \(index.documentCount) documents, \(index.byteCount) bytes; \
            build \(buildTime), write \(writeTime), read and check \(readTime); 128-token lookups: \
            mixed median \(mixedLookup.median) (first \(mixedLookup.first), \(mixedLookup.spans.count) spans), \
            verbatim median \(verbatimLookup.median) (first \(verbatimLookup.first), \(verbatimLookup.spans.count) spans)
            """)
        #expect(mixedLookup.median <= .milliseconds(10))
        #expect(verbatimLookup.median <= .milliseconds(10))
        #expect(Set(mixedLookup.spans.flatMap(\.documents)).isSuperset(of: copiedFrom))
        #expect(mixedLookup.spans.allSatisfy { $0.tokenCount >= 6 && $0.tokenCount <= 24 + 8 })
        #expect(verbatimLookup.spans.first?.documents == [verbatimDocument])
        #expect((verbatimLookup.spans.first?.tokenCount ?? 0) > 120)
        #expect(SpanMatcher(index: index, startsWord: startsWord).spans(of: mixed, decode: { "\($0.count) tokens" }) == mixedLookup.spans)
    }
}
