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
/// `bench attribution` (docs/attribution-experiments.md). Each `r_d` is the average of its sorted scores
/// in descending order, so it is as deterministic as the scores.
public struct Hubness: Sendable {
    /// Documents every row is compared with: the datanet's first.
    public static let referencesDefault = 512
    /// Nearest references averaged.
    public static let neighboursDefault = 50
    /// Documents whose rows are compared with the references in one batched product.
    static let documentsPerPass = 32
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
        // `documentsPerPass` documents' rows as queries at a time, against all references in one batched product.
        meanNeighbourScores = stride(from: 0, to: g.count, by: Self.documentsPerPass).flatMap { first in
            let documents = first..<min(g.count, first + Self.documentsPerPass)
            let queries = documents.mapInParallel(chunk: 1, pool: pool) { k in
                CentredQuery(g, centred: standardization.centred(g.rowValues(k)), standardization: standardization)
            }
            let dots = g.dots(queries.map(\.query), rows: referenceRows, pool: pool)
            return documents.enumerated().map { index, k -> Double in
                var scores = referenceRows.map { standardization.centredScore(dots[index][$0], row: $0, of: queries[index]) }
                if referenceRows.contains(k) { scores.remove(at: k) }
                let nearest = scores.sorted(by: >).prefix(neighbours)
                return nearest.isEmpty ? 0 : nearest.reduce(0, +) / Double(nearest.count)
            }
        }
    }

    /// `centered` scores lowered by each document's `weight · r_d`.
    public func scores(centered: [Double]) -> [Double] {
        precondition(centered.count == meanNeighbourScores.count, "the hubness belongs to other rows")
        return zip(centered, meanNeighbourScores).map { $0 - Self.weight * $1 }
    }
}
