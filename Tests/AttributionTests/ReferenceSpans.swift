import Attribution

/// The span rules written as their definition, by exhaustive search with no suffix array:
/// every word-bounded span of the completion that occurs in a document (found by scanning),
/// kept when no other such span contains it, at least `minTokens` long and occurring at most
/// `occurrencesMax` times; ranked by occurrences, then length (longest first), then start.
struct ReferenceSpans {
    let documents: [[Int32]]

    struct Span: Equatable, CustomStringConvertible {
        let start: Int
        let end: Int
        let count: Int
        let documents: [Int]
        var description: String { "[\(start), \(end)) ×\(count) in \(documents)" }
    }

    /// Every place `tokens` occurs: (document, offset).
    func occurrences(of tokens: ArraySlice<Int32>) -> [(document: Int, offset: Int)] {
        var found: [(Int, Int)] = []
        guard !tokens.isEmpty else { return found }
        for (index, document) in documents.enumerated() where document.count >= tokens.count {
            for offset in 0...(document.count - tokens.count) where document[offset..<(offset + tokens.count)].elementsEqual(tokens) {
                found.append((index, offset))
            }
        }
        return found
    }

    func spans(of completion: [Int32], startsWord: [Bool], rules: SpanRules) -> [Span] {
        func beginsWord(_ token: Int32) -> Bool { token < 0 || Int(token) >= startsWord.count || startsWord[Int(token)] }
        let count = completion.count
        var occurring: [(start: Int, end: Int)] = []
        for start in 0..<count where start == 0 || beginsWord(completion[start]) {
            for end in (start + 1)...count where end == count || beginsWord(completion[end]) {
                let tokens = completion[start..<end]
                if tokens.allSatisfy({ $0 >= 0 }), !occurrences(of: tokens).isEmpty { occurring.append((start, end)) }
            }
        }
        let maximal = occurring.filter { span in
            !occurring.contains { other in other != span && other.start <= span.start && other.end >= span.end }
        }
        var spans: [Span] = []
        for span in maximal where span.end - span.start >= rules.minTokens {
            let found = occurrences(of: completion[span.start..<span.end])
            guard found.count <= rules.occurrencesMax else { continue }
            let documents = Array(Set(found.map(\.document)).sorted().prefix(rules.documentsMax))
            spans.append(Span(start: span.start, end: span.end, count: found.count, documents: documents))
        }
        return spans.sorted { a, b in
            (a.count, b.end - b.start, a.start) < (b.count, a.end - a.start, b.start)
        }
    }
}

extension ReferenceSpans.Span {
    init(_ span: MatchedSpan) {
        self.init(start: span.startToken, end: span.endToken, count: span.count, documents: span.documents)
    }
}
