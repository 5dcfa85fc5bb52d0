/// Means of `RankingMetrics` over a task's queries: what the benchmark reports per method and
/// task.
public struct RankingSummary: Hashable, Sendable {
    public let queryCount: Int
    /// Share of queries whose first-ranked document is relevant.
    public let topHitRate: Double
    /// Mean reciprocal rank of the first relevant document (MRR).
    public let meanReciprocalRank: Double
    /// Mean ROC AUC.
    public let meanROCAUC: Double
    /// The k of `meanRecall`.
    public let recallK: Int
    /// Mean capped recall at `recallK`.
    public let meanRecall: Double

    /// Summarises `metrics` (not empty), with recall at `recallK`.
    public init(_ metrics: [RankingMetrics], recallK: Int) {
        precondition(!metrics.isEmpty, "nothing to summarise")
        func mean(_ value: (RankingMetrics) -> Double) -> Double {
            metrics.reduce(0) { $0 + value($1) } / Double(metrics.count)
        }
        queryCount = metrics.count
        topHitRate = mean { $0.isTopHit ? 1 : 0 }
        meanReciprocalRank = mean(\.reciprocalRank)
        meanROCAUC = mean(\.rocAUC)
        self.recallK = recallK
        meanRecall = mean { $0.recall(at: recallK) }
    }
}
