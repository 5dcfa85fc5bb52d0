import Attribution
import Foundation
import Inference
import Testing

@Suite struct QualityBM25Tests {
    @Test func tokens() {
        #expect(BM25.terms(of: "Cat's 2nd-place, at the Fair!\nA:") == ["cat", "s", "2nd", "place", "at", "the", "fair", "a"])
        #expect(BM25.terms(of: " ... ").isEmpty)
    }

    /// Scores worked out by hand for a three-document corpus (lengths 3, 6, 3; mean 4).
    @Test func scoresMatchHandComputation() {
        let bm25 = BM25(texts: ["The cat sat.", "The dog sat on the mat.", "Cats and dogs"])
        // idf(cat) = ln(1 + (3 − 1 + 0.5)/(1 + 0.5)) = ln(8/3); idf(sat) = ln(1 + 1.5/2.5) = ln 1.6.
        #expect(abs(bm25.idf(holders: 1) - log(8.0 / 3)) < 1e-12)
        // Length norms k1·(1 − b + b·|D|/avgdl): 1.2·(0.25 + 0.75·3/4) = 0.975 and 1.2·(0.25 + 0.75·6/4) = 1.65.
        let short = 2.2 / (1 + 0.975), long = 2.2 / (1 + 1.65)
        let expected = [log(8.0 / 3) * short + log(1.6) * short, log(1.6) * long, 0]
        let scores = bm25.scores(query: "cat sat")
        #expect(zip(scores, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(scores)")
        // A repeated query token counts again; unknown tokens add nothing.
        let repeated = bm25.scores(query: "cat SAT sat zebra")
        #expect(abs(repeated[1] - 2 * log(1.6) * long) < 1e-12)
        #expect(abs(repeated[0] - (log(8.0 / 3) + 2 * log(1.6)) * short) < 1e-12)
        // "the" twice in document 1: f = 2 saturates, 2·2.2/(2 + 1.65), not twice the single count.
        let the = bm25.scores(query: "the")
        let idfThe = log(1 + 1.5 / 2.5)
        #expect(abs(the[1] - idfThe * 4.4 / 3.65) < 1e-12 && abs(the[0] - idfThe * short) < 1e-12 && the[2] == 0)
        // b = 0 ignores length; k1 = 0 ignores counts beyond presence.
        let flat = BM25(texts: ["The cat sat.", "The dog sat on the mat.", "Cats and dogs"], k1: 0, b: 0)
        #expect(flat.scores(query: "the") == [idfThe, idfThe, 0])
    }

    /// A prompt/completion document is searched by its words, not its JSON.
    @Test func promptCompletionDocuments() {
        let documents = [DatanetDocument(prompt: "Q: capital?\nA:", completion: " Quelspire"), DatanetDocument(text: "completion prompt")]
        #expect(BM25.searchableText(documents[0]) == "Q: capital?\nA: Quelspire")
        let scores = BM25(documents: documents).scores(query: "prompt")
        #expect(scores[0] == 0 && scores[1] > 0)
    }

    /// On planted facts BM25 is far better than chance (3 relevant of 1,300: chance puts one
    /// first for 0.2% of facts) but not perfect: the questions are paraphrased, and mentions of
    /// each subject share the question's topic words without stating the fact. Scores are the
    /// same on every run.
    @Test func findsPlantedFactsWellButNotPerfectly() {
        let task = PlantedFactsGenerator(seed: 1).task()
        let bm25 = BM25(documents: task.documents)
        let ids = task.documentIDs
        let metrics = task.queries.map { RankingMetrics(scores: bm25.scores(query: $0.text), documentIDs: ids, relevant: $0.relevant) }
        let summary = RankingSummary(metrics, recallK: 3)
        #expect(summary.topHitRate >= 0.6 && summary.topHitRate <= 0.9, "top-1 \(summary.topHitRate)")
        #expect(summary.meanRecall >= 0.6 && summary.meanRecall <= 0.9, "Recall@3 \(summary.meanRecall)")
        #expect(summary.meanReciprocalRank > 0.75)
        #expect(BM25(documents: task.documents).scores(query: task.queries[0].text) == bm25.scores(query: task.queries[0].text))
        // Without the mentions, the two rare names find every fact: the mentions are what make the baseline fallible.
        let plain = PlantedFactsGenerator(seed: 1, mentionsPerFact: 0).task()
        let plainBM25 = BM25(documents: plain.documents)
        let plainSummary = RankingSummary(plain.queries.map {
            RankingMetrics(scores: plainBM25.scores(query: $0.text), documentIDs: plain.documentIDs, relevant: $0.relevant)
        }, recallK: 3)
        #expect(plainSummary.topHitRate == 1 && plainSummary.meanRecall == 1, "without mentions: top-1 \(plainSummary.topHitRate)")
    }
}
