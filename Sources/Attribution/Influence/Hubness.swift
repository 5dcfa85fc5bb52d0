import Inference

/// What `InfluenceMethod.csls` subtracts from a document's `centered` score: how near the
/// document lies to the datanet's other documents (its "hubness"), so that a document near
/// everything does not rank high for every query — cross-domain similarity local scaling
/// (Conneau et al., ICLR 2018).
///
/// Document `d`'s `r_d` is the mean of the `neighbours` largest `centered` scores of `d`'s
/// own row, taken as a query, against the datanet's first `references` documents (`d`
/// itself left out). A fixed reference set keeps the cost linear in the datanet
/// (`count × references` inner products) and scored as well as all documents on
/// `bench attribution` (docs/attribution.md). Each `r_d` is the average of its sorted scores
/// in descending order, so it is as deterministic as the scores.
public struct Hubness: Sendable {
    /// Documents every row is compared with: the datanet's first.
    public static let referencesDefault = 512
    /// Nearest references averaged.
    public static let neighboursDefault = 50
    /// The share of `r_d` taken off a document's score.
    public static let weight = 0.5

    /// `r_d` per document, in row order.
    public let meanNeighbourScores: [Double]

    public init<Rows: ScoringRows>(
        _ g: Rows, standardization: FeatureStandardization, pool: WorkerPool,
        references: Int = Hubness.referencesDefault, neighbours: Int = Hubness.neighboursDefault
    ) {
        precondition(references >= 1 && neighbours >= 1, "hubness needs references and neighbours")
        let referenceRows = 0..<min(g.count, references)
        meanNeighbourScores = (0..<g.count).map { k in
            var scores = standardization.centredScores(g, query: g.rowValues(k), pool: pool, rows: referenceRows)
            if referenceRows.contains(k) { scores.remove(at: k) }
            let nearest = scores.sorted(by: >).prefix(neighbours)
            return nearest.isEmpty ? 0 : nearest.reduce(0, +) / Double(nearest.count)
        }
    }

    /// `centered` scores lowered by each document's `weight · r_d`.
    public func scores(centered: [Double]) -> [Double] {
        precondition(centered.count == meanNeighbourScores.count, "the hubness belongs to other rows")
        return zip(centered, meanNeighbourScores).map { $0 - Self.weight * $1 }
    }
}
