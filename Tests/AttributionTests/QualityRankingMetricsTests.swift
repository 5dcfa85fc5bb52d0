import Attribution
import Testing

@Suite struct QualityRankingMetricsTests {
    /// Five documents, two relevant, one tie across the relevance line.
    @Test func handMadeRanking() {
        let ids = ["e", "d", "c", "b", "a"]
        let scores = [0.9, 0.5, 0.5, 0.1, 0.7]
        // Order: e 0.9, a 0.7, then the tie c/d broken by id (c first), b 0.1.
        #expect(RankingMetrics.ranking(scores: scores, documentIDs: ids) == [0, 4, 2, 1, 3])
        let metrics = RankingMetrics(scores: scores, documentIDs: ids, relevant: ["c", "b"])
        #expect(metrics.relevantRanks == [3, 5])
        #expect(metrics.firstRelevantRank == 3 && !metrics.isTopHit && metrics.reciprocalRank == 1.0 / 3)
        #expect(metrics.recall(at: 1) == 0 && metrics.recall(at: 3) == 0.5 && metrics.recall(at: 4) == 0.5 && metrics.recall(at: 5) == 1)
        #expect(metrics.recall(at: 50) == 1)
        // Pairs (relevant, other): c–e 0, c–a 0, c–d tie ½, b–anything 0: AUC = ½ / 6.
        #expect(metrics.rocAUC == 0.5 / 6)
    }

    @Test func extremesAndTies() {
        let ids = ["a", "b", "c", "d"]
        let perfect = RankingMetrics(scores: [4, 3, 2, 1], documentIDs: ids, relevant: ["a", "b"])
        #expect(perfect.rocAUC == 1 && perfect.isTopHit && perfect.relevantRanks == [1, 2] && perfect.recall(at: 2) == 1)
        let reversed = RankingMetrics(scores: [1, 2, 3, 4], documentIDs: ids, relevant: ["a", "b"])
        #expect(reversed.rocAUC == 0 && reversed.relevantRanks == [3, 4] && reversed.reciprocalRank == 1.0 / 3)
        // All tied: AUC ½, ranks by id.
        let flat = RankingMetrics(scores: [0, 0, 0, 0], documentIDs: ids, relevant: ["b", "d"])
        #expect(flat.rocAUC == 0.5 && flat.relevantRanks == [2, 4])
        // Recall is capped by the top k's size: 8 documents of a 10-document class, 6 in the top 8.
        let classIDs = (0..<20).map { String(format: "%02d", $0) }
        let classScores = (0..<20).map { Double(20 - $0) }
        let inClass = Set(classIDs[0..<6] + classIDs[10..<14])
        let capped = RankingMetrics(scores: classScores, documentIDs: classIDs, relevant: inClass)
        #expect(capped.recall(at: 8) == 6.0 / 8 && capped.recall(at: 20) == 1 && capped.recall(at: 12) == 8.0 / 10)
        // Mann–Whitney by hand: positives rank 15–20 and 7–10 of 20 (ascending); U = 105 + 34 − 55 = 84 of 100.
        #expect(abs(capped.rocAUC - 0.84) < 1e-12)
    }

    @Test func summaryAveragesQueries() {
        let ids = ["a", "b", "c"]
        let first = RankingMetrics(scores: [3, 2, 1], documentIDs: ids, relevant: ["a"])   // rank 1, AUC 1
        let second = RankingMetrics(scores: [3, 2, 1], documentIDs: ids, relevant: ["c"])  // rank 3, AUC 0
        let third = RankingMetrics(scores: [1, 1, 1], documentIDs: ids, relevant: ["b"])   // rank 2, AUC ½
        let summary = RankingSummary([first, second, third], recallK: 2)
        #expect(summary.queryCount == 3 && summary.recallK == 2)
        #expect(abs(summary.topHitRate - 1.0 / 3) < 1e-12)
        #expect(abs(summary.meanReciprocalRank - (1 + 1.0 / 3 + 0.5) / 3) < 1e-12)
        #expect(abs(summary.meanROCAUC - 0.5) < 1e-12)
        #expect(abs(summary.meanRecall - 2.0 / 3) < 1e-12)
    }
}
