import Foundation
import Inference

/// Okapi BM25 over lowercase word tokens: the text half of the `hybrid` method, and the
/// text-retrieval baseline of the attribution benchmark.
///
/// A document's score for a query is, summed over the query's tokens (a repeated token counts
/// each time, as Lucene's term clauses and `rank_bm25` do):
///
///     idf(t) · f(t, D) · (k1 + 1) / (f(t, D) + k1 · (1 − b + b · |D| / avgdl))
///
/// with `f(t, D)` the token's count in the document, `|D|` the document's length in tokens,
/// `avgdl` the mean length, and Lucene's never-negative IDF,
/// `idf(t) = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))` for `N` documents of which `n(t)` hold
/// the token. A token no document holds adds nothing. Tokens are maximal runs of letters and
/// digits, lowercased (`terms(of:)`). Scores are computed in a fixed order, so they are the
/// same on every run; ranking them (ties by document id) is `RankingMetrics.ranking`.
public struct BM25: Sendable {
    public static let defaultK1 = 1.2
    public static let defaultB = 0.75

    public let k1: Double
    public let b: Double
    /// Documents indexed.
    public let documentCount: Int
    /// Per token: the documents holding it (ascending) and its count in each.
    private let postings: [String: [(document: Int, count: Int)]]
    private let lengths: [Int]
    private let meanLength: Double

    /// Indexes `texts`, one per document, in order.
    public init(texts: [String], k1: Double = defaultK1, b: Double = defaultB) {
        precondition(!texts.isEmpty, "BM25 needs at least one document")
        precondition(k1 >= 0 && (0...1).contains(b), "BM25 needs k1 ≥ 0 and 0 ≤ b ≤ 1")
        self.k1 = k1
        self.b = b
        documentCount = texts.count
        var postings: [String: [(document: Int, count: Int)]] = [:]
        var lengths: [Int] = []
        for (document, text) in texts.enumerated() {
            let terms = Self.terms(of: text)
            lengths.append(terms.count)
            var counts: [String: Int] = [:]
            for term in terms { counts[term, default: 0] += 1 }
            for (term, count) in counts { postings[term, default: []].append((document, count)) }
        }
        self.postings = postings
        self.lengths = lengths
        meanLength = Double(lengths.reduce(0, +)) / Double(texts.count)
    }

    /// Indexes datanet documents by what they say: a plain document's text, a
    /// prompt/completion document's prompt followed by its completion.
    public init(documents: [DatanetDocument], k1: Double = defaultK1, b: Double = defaultB) {
        self.init(texts: documents.map(Self.searchableText), k1: k1, b: b)
    }

    /// The text of `document` that is indexed: its words, not the JSON of a prompt/completion pair.
    public static func searchableText(_ document: DatanetDocument) -> String {
        switch document.content {
        case let .text(text): text
        case let .promptCompletion(prompt, completion): prompt + completion
        }
    }

    /// Lowercase tokens of `text`: maximal runs of letters and digits.
    public static func terms(of text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Inverse document frequency of a token held by `holders` of the documents.
    public func idf(holders: Int) -> Double {
        let n = Double(holders)
        return log(1 + (Double(documentCount) - n + 0.5) / (n + 0.5))
    }

    /// Every document's score for `query`, in document order.
    public func scores(query: String) -> [Double] {
        var scores = [Double](repeating: 0, count: documentCount)
        for term in Self.terms(of: query) {
            guard let holders = postings[term] else { continue }
            let weight = idf(holders: holders.count)
            for (document, count) in holders {
                let frequency = Double(count)
                let norm = k1 * (1 - b + b * Double(lengths[document]) / meanLength)
                scores[document] += weight * frequency * (k1 + 1) / (frequency + norm)
            }
        }
        return scores
    }
}
