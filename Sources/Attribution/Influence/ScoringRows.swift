import Inference

/// Documents' gradient vectors as `InfluenceScorer` reads them: exact gradients
/// (`GradientMatrix`, float32) or an index's projected features (`FeatureMatrix`, int4 levels
/// with a scale per row). Each kernel works on a whole row or block in an order fixed by the data
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

    /// Row `k`'s values, as a query would give them.
    func rowValues(_ k: Int) -> [Float]
    /// `v` (`width` values) made comparable with the rows.
    func query(_ v: [Float]) -> Query
    /// `‖v‖²` of a query.
    func squaredNorm(_ query: Query) -> Double
    /// `v·g_k` over `columns`.
    func dot(_ query: Query, row k: Int, columns: Range<Int>) -> Double
    /// `v_j` of a query as float64, for `j` in `columns`.
    func values(of query: Query, columns: Range<Int>) -> [Double]
    /// `dot(queries[q], row: k, columns: 0..<width)` for every query and every row `k` of
    /// `rows`, as `result[q][k − rows.lowerBound]`, bit for bit as `dot` gives each, computed on `pool`.
    func dots(_ queries: [Query], rows: Range<Int>, pool: WorkerPool) -> [[Double]]
    /// `Σ_j u[j − columns.lowerBound]·g_kj` over `columns`, in a fixed order.
    func dot(_ u: UnsafePointer<Double>, row k: Int, columns: Range<Int>) -> Double
    /// `w[j − columns.lowerBound] += c·g_kj` for `j` in `columns`.
    func add(_ c: Double, row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>)
    /// `w[j − columns.lowerBound] += g_kj²` for `j` in `columns`.
    func addSquared(row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>)
    /// `Σ_j u[j]·g_kj²` over the whole row, in a fixed order.
    func squaredDot(_ u: UnsafePointer<Double>, row k: Int) -> Double
}

extension ScoringRows {
    public func dots(_ queries: [Query], rows: Range<Int>, pool: WorkerPool) -> [[Double]] {
        queries.map { query in rows.mapInParallel(chunk: 64, pool: pool) { dot(query, row: $0, columns: 0..<width) } }
    }

    /// `Σ_j u[j]·g_kj` over the whole row, in a fixed order.
    public func dot(_ u: UnsafePointer<Double>, row k: Int) -> Double { dot(u, row: k, columns: 0..<width) }

    /// `Σ_j u[j]·f(x[j])` over `count` entries in float64, in an order fixed by `count` alone:
    /// four lanes each sum every fourth term in index order, the lanes are added pairwise, then
    /// the tail in index order. Any thread gives the same bits.
    @inline(__always)
    static func weightedSum<T>(_ u: UnsafePointer<Double>, _ x: UnsafePointer<T>, _ count: Int, _ f: (T) -> Double) -> Double {
        var lanes = SIMD4<Double>()
        var i = 0
        while i + 4 <= count {
            lanes += SIMD4(u[i], u[i + 1], u[i + 2], u[i + 3]) * SIMD4(f(x[i]), f(x[i + 1]), f(x[i + 2]), f(x[i + 3]))
            i += 4
        }
        var sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
        while i < count {
            sum += u[i] * f(x[i])
            i += 1
        }
        return sum
    }

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
