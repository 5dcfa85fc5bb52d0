/// The `hybrid` method's sum of two kinds of evidence that a document taught an answer: its
/// `fisher` influence on the query's loss, and the `BM25` relevance of its words to the
/// query's words (prompt and completion). Each is divided by its standard deviation over the
/// datanet's documents, so neither's scale decides, and the two are added:
///
///     score_k = fisher_k / σ(fisher) + bm25_k / σ(bm25)
///
/// Nothing is centred: BM25 is never negative, so a document sharing no word with the query
/// keeps the sign of its influence (positive: it helped), and one sharing rare words gains.
/// A kind of evidence that is the same for every document (σ = 0, e.g. a query whose words no
/// document holds) adds nothing. Sums run in document order, so scores are bit-identical
/// wherever their inputs are.
public enum HybridScores {
    /// `influence` and `relevance` (document order, as long as each other) combined as above.
    public static func combine(influence: [Double], relevance: [Double]) -> [Double] {
        precondition(influence.count == relevance.count, "one influence and one relevance per document")
        let influenceScale = inverseDeviation(influence), relevanceScale = inverseDeviation(relevance)
        return zip(influence, relevance).map { $0 * influenceScale + $1 * relevanceScale }
    }

    /// `1/σ` of `values` (the population standard deviation), or 0 when they are all equal.
    static func inverseDeviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return variance > 0 && variance.isFinite ? 1 / variance.squareRoot() : 0
    }
}
