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

        // Mid-ranks over ascending scores: tied documents share the mean of their positions.
        let ascending = scores.indices.sorted { scores[$0] < scores[$1] }
        var relevantRankSum = 0.0
        var start = 0
        while start < ascending.count {
            var end = start
            while end + 1 < ascending.count && scores[ascending[end + 1]] == scores[ascending[start]] { end += 1 }
            let midRank = Double(start + end) / 2 + 1
            for position in start...end where isRelevant[ascending[position]] { relevantRankSum += midRank }
            start = end + 1
        }
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
