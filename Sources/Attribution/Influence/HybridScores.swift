/// The `hybrid` method's sum of two kinds of evidence that a document taught an answer: its
/// `fisher` influence on the query's loss, and the `BM25` relevance of its words to the
/// query's words (prompt and completion). Each is divided by its range over the datanet's
/// documents (largest minus smallest), so neither's scale decides, and the two are added:
///
///     score_k = fisher_k / range(fisher) + bm25_k / range(bm25)
///
/// This ranks as the convex combination of min-max normalised scores with equal weights
/// (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", 2023),
/// since subtracting each minimum shifts every document alike. Nothing is centred, though: BM25
/// is never negative, so a document sharing no word with the query keeps the sign of its
/// influence (positive: it helped), and one sharing rare words gains. A kind of evidence that
/// is the same for every document (range 0, e.g. a query whose words no document holds) adds
/// nothing. Scores are bit-identical wherever their inputs are.
public enum HybridScores {
    /// `influence` and `relevance` (document order, as long as each other) combined as above.
    public static func combine(influence: [Double], relevance: [Double]) -> [Double] {
        precondition(influence.count == relevance.count, "one influence and one relevance per document")
        let influenceScale = inverseRange(influence), relevanceScale = inverseRange(relevance)
        return zip(influence, relevance).map { $0 * influenceScale + $1 * relevanceScale }
    }

    /// `1/(max − min)` of `values`, or 0 when they are all equal (or not finite).
    static func inverseRange(_ values: [Double]) -> Double {
        guard let low = values.min(), let high = values.max() else { return 0 }
        let range = high - low
        return range > 0 && range.isFinite ? 1 / range : 0
    }
}
