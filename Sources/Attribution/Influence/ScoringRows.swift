/// Documents' gradient vectors as `InfluenceScorer` reads them: exact gradients
/// (`GradientMatrix`, float32) or an index's projected features (`FeatureMatrix`, int8 with a
/// scale per row). Each kernel works on a whole row or block in an order fixed by the data
/// alone, so a score does not depend on the thread that computes it.
public protocol ScoringRows: Sendable {
    /// The query in the rows' own representation.
    associatedtype Query
    /// Documents (rows).
    var count: Int { get }
    /// Values per row.
    var width: Int { get }
    /// Each block's columns, in order, covering `0..<width`.
    var blocks: [Range<Int>] { get }
    /// `‖g_li‖²` per document and block, `count × blocks.count`.
    var squaredNorms: [Double] { get }
    /// `‖g_k‖` per document: its blocks' squared norms summed in block order, square-rooted.
    var norms: [Double] { get }

    /// `v` (`width` values) made comparable with the rows.
    func query(_ v: [Float]) -> Query
    /// `‖v‖²` of a query.
    func squaredNorm(_ query: Query) -> Double
    /// `v·g_k` over `columns`.
    func dot(_ query: Query, row k: Int, columns: Range<Int>) -> Double
    /// `v_j` of a query as float64, for `j` in `columns`.
    func values(of query: Query, columns: Range<Int>) -> [Double]
    /// `Σ_j u[j]·g_kj` over the whole row, in column order.
    func dot(_ u: UnsafePointer<Double>, row k: Int) -> Double
    /// `w[j − columns.lowerBound] += c·g_kj` for `j` in `columns`.
    func add(_ c: Double, row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>)
}

extension ScoringRows {
    /// Every document's squared norm per block and its norm, from one kernel per block.
    static func norms(count: Int, blocks: [Range<Int>], squaredNorm: (Int, Range<Int>) -> Double) -> (squaredNorms: [Double], norms: [Double]) {
        let squaredNorms = (0..<count).flatMap { k in blocks.map { squaredNorm(k, $0) } }
        let norms = (0..<count).map { k in squaredNorms[(k * blocks.count)..<((k + 1) * blocks.count)].reduce(0, +).squareRoot() }
        return (squaredNorms, norms)
    }

    /// Checks that `blocks` tile `0..<width`.
    static func tiles(_ blocks: [Range<Int>], width: Int) -> Bool {
        blocks.first?.lowerBound == 0 && blocks.last?.upperBound == width && zip(blocks, blocks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
    }
}
