import Foundation
import Inference

/// What `InfluenceMethod.expanded` scores with: α-weighted query expansion (Radenović, Tolias
/// and Chum, TPAMI 2018), the query moved towards the documents it ranks highest, then
/// ranked again.
///
/// With centred unit rows `ĝ_k = (g_k − μ)/‖g_k − μ‖` (`FeatureStandardization`), the centred
/// unit query `v̂ = (v − μ)/‖v − μ‖`, `T` its `documents` best documents by `csls` (ties to the
/// lower row) and `c_k` their `centered` scores, the expanded centred query is
/// `v̂ + Σ_{k∈T} max(0, c_k)^α ĝ_k`, summed in float64 in rank order, so it is as
/// deterministic as the scores it starts from. Documents close to the query weigh in and
/// distant ones hardly: on DataInf's tasks a query's best documents share its class and pull
/// the rest of the class up, while a planted fact's best documents are far from its query
/// and leave it nearly unchanged (docs/attribution-experiments.md).
public enum QueryExpansion {
    /// Best documents added to the query.
    public static let documents = 10
    /// The power of a document's `centered` score that weights it.
    public static let exponent = 2.0

    /// The expanded centred query (`g.width` values) of the query `v`, given its `centered`
    /// and `csls` scores over `g`'s rows.
    public static func centredQuery<Rows: ScoringRows>(
        _ g: Rows, query v: [Float], centered: [Double], csls: [Double], standardization: FeatureStandardization
    ) -> [Double] {
        precondition(centered.count == g.count && csls.count == g.count && v.count == g.width, "the scores belong to other rows")
        var expanded = standardization.centred(v)
        let queryNorm = expanded.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in 0..<g.width { expanded[j] = queryNorm > 0 ? expanded[j] / queryNorm : 0 }
        let best = (0..<g.count).sorted { csls[$0] != csls[$1] ? csls[$0] > csls[$1] : $0 < $1 }.prefix(documents)
        for k in best where centered[k] > 0 && standardization.centredNorms[k] > 0 {
            let row = standardization.centred(g.rowValues(k)), weight = Foundation.pow(centered[k], exponent) / standardization.centredNorms[k]
            for j in 0..<g.width { expanded[j] += row[j] * weight }
        }
        return expanded
    }
}
