/// How well one query's scores rank the documents relevant to it.
///
/// Documents are ranked by score, highest first, ties by document id (ascending). From the
/// ranks of the relevant documents:
/// - `firstRelevantRank` (from 1), `isTopHit` (a relevant document first) and
///   `reciprocalRank` (1 / first relevant rank; its mean over queries is MRR);
/// - `recall(at:)`, capped recall: the share of the top k that is relevant, out of what the
///   top k could hold, `|relevant ∩ top k| / min(k, |relevant|)` — the usual recall when k is
///   at least the number of relevant documents (planted facts: Recall@3 of 3 documents), and
///   DataInf's detection recall, the share of the query's class among the top k, when k is
///   at most the class's size (its tasks: Recall@8 of 90);
/// - `rocAUC`: the probability that a random relevant document scores above a random other
///   one, ties counting half (the Mann–Whitney statistic over mid-ranks).
public struct RankingMetrics: Hashable, Sendable {
    /// Ranks (from 1) of the relevant documents, ascending.
    public let relevantRanks: [Int]
    public let rocAUC: Double

    /// Measures `scores` (finite, one per document, in the order of `documentIDs`, which are
    /// distinct) against `relevant`, which names some but not all of the documents.
    public init(scores: [Double], documentIDs: [String], relevant: Set<String>) {
        precondition(scores.count == documentIDs.count, "one score per document")
        precondition(scores.allSatisfy(\.isFinite), "scores must be finite")
        let isRelevant = documentIDs.map(relevant.contains)
        let relevantCount = isRelevant.filter { $0 }.count
        precondition(relevantCount == relevant.count, "every relevant id must be a document (once)")
        precondition(relevantCount < documentIDs.count, "some document must be irrelevant")

        let order = Self.ranking(scores: scores, documentIDs: documentIDs)
        relevantRanks = order.enumerated().compactMap { rank, document in isRelevant[document] ? rank + 1 : nil }

        let ranks = Self.midRanks(scores)
        let relevantRankSum = scores.indices.reduce(0.0) { $0 + (isRelevant[$1] ? ranks[$1] + 1 : 0) }
        let positives = Double(relevantCount), negatives = Double(documentIDs.count - relevantCount)
        rocAUC = (relevantRankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Document positions by score, highest first, ties by document id ascending.
    public static func ranking(scores: [Double], documentIDs: [String]) -> [Int] {
        precondition(scores.count == documentIDs.count, "one score per document")
        return scores.indices.sorted { left, right in
            scores[left] != scores[right] ? scores[left] > scores[right] : documentIDs[left] < documentIDs[right]
        }
    }

    /// Each value's rank among `values` in ascending order, from 0; tied values share the
    /// mean of their positions (mid-ranks).
    public static func midRanks(_ values: [Double]) -> [Double] {
        let ascending = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count), start = 0
        while start < ascending.count {
            var end = start
            while end + 1 < ascending.count && values[ascending[end + 1]] == values[ascending[start]] { end += 1 }
            for position in start...end { ranks[ascending[position]] = Double(start + end) / 2 }
            start = end + 1
        }
        return ranks
    }

    /// Spearman's rank correlation of two paired lists: the Pearson correlation of their
    /// mid-ranks (0 when either list is constant).
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "Spearman's correlation pairs the lists")
        let x = midRanks(a), y = midRanks(b)
        let mx = x.reduce(0, +) / Double(max(x.count, 1)), my = y.reduce(0, +) / Double(max(y.count, 1))
        let covariance = zip(x, y).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let spread = (x.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) } * y.reduce(0.0) { $0 + ($1 - my) * ($1 - my) }).squareRoot()
        return spread > 0 ? covariance / spread : 0
    }

    public var relevantCount: Int { relevantRanks.count }
    public var firstRelevantRank: Int { relevantRanks[0] }
    public var isTopHit: Bool { firstRelevantRank == 1 }
    public var reciprocalRank: Double { 1 / Double(firstRelevantRank) }

    /// Capped recall at `k` (see the type's description).
    public func recall(at k: Int) -> Double {
        precondition(k >= 1, "recall needs k ≥ 1")
        let found = relevantRanks.prefix { $0 <= k }.count
        return Double(found) / Double(min(k, relevantCount))
    }
}
