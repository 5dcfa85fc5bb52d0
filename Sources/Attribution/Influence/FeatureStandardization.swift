import Inference

/// What `InfluenceMethod.standardized` scores with: every feature centred on its mean over the
/// datanet's documents and divided by its standard deviation there, then the cosine; and what
/// `InfluenceMethod.centered` scores with: the same without the division.
///
/// With `μ_j`, `σ_j` over the documents, `z(x)_j = (x_j − μ_j)/σ_j` (features constant across
/// the documents, `σ_j = 0`, are left out) and
/// `score_k = z(v)·z(g_k) / (‖z(v)‖ ‖z(g_k)‖)`. The numerator is taken as
/// `Σ_j w_j g_kj − Σ_j w_j μ_j` with `w_j = (v_j − μ_j)/σ_j²`: one weighted pass over each
/// stored row. A diagonal preconditioner estimated from the datanet itself (as TrackStar
/// divides by Adam's second moments, without needing the optimizer's state) with the common
/// direction of all documents removed. Centring alone (`centredScores`) is a
/// translation, so unlike the division it commutes with the index's random projection: the
/// projected mean is the mean of the projections. Computed once per set of rows, in float64,
/// every sum in an order fixed by the data.
public struct FeatureStandardization: Sendable {
    /// `μ_j`.
    public let means: [Double]
    /// `1/σ_j²`, or 0 where `σ_j = 0`.
    public let inverseVariances: [Double]
    /// `‖z(g_k)‖` per document.
    public let norms: [Double]
    /// `‖g_k − μ‖` per document.
    public let centredNorms: [Double]

    public init<Rows: ScoringRows>(_ g: Rows, pool: WorkerPool) {
        let n = Double(g.count)
        // Per block, on one thread: Σ_k g_kj and Σ_k g_kj², documents added in order.
        let moments = (0..<g.blocks.count).mapInParallel(chunk: 1, pool: pool) { l -> (sums: [Double], squares: [Double]) in
            let block = g.blocks[l]
            var sums = [Double](repeating: 0, count: block.count), squares = sums
            sums.withUnsafeMutableBufferPointer { sums in
                squares.withUnsafeMutableBufferPointer { squares in
                    for k in 0..<g.count {
                        g.add(1, row: k, columns: block, into: sums.baseAddress!)
                        g.addSquared(row: k, columns: block, into: squares.baseAddress!)
                    }
                }
            }
            return (sums, squares)
        }
        let means = moments.flatMap { $0.sums.map { $0 / n } }
        let meanSquares = moments.flatMap { $0.squares.map { $0 / n } }
        let inverseVariances = zip(meanSquares, means).map { meanSquare, mean -> Double in
            let variance = meanSquare - mean * mean
            // Below rounding of the second moment the feature is constant across documents.
            return variance > 1e-12 * meanSquare ? 1 / variance : 0
        }
        assert(means.count == g.width && inverseVariances.count == g.width, "one mean and variance per feature")
        // ‖z_k‖² = Σ_j g_kj²/σ_j² − 2 Σ_j g_kj μ_j/σ_j² + Σ_j μ_j²/σ_j².
        let centre = zip(means, inverseVariances).map { $0 * $1 }
        var constant = 0.0
        for j in 0..<g.width { constant += centre[j] * means[j] }
        let norms = inverseVariances.withUnsafeBufferPointer { a in
            centre.withUnsafeBufferPointer { c in
                (0..<g.count).mapInParallel(chunk: 64, pool: pool) { k in
                    max(0, g.squaredDot(a.baseAddress!, row: k) - 2 * g.dot(c.baseAddress!, row: k) + constant).squareRoot()
                }
            }
        }
        // ‖g_k − μ‖² = ‖g_k‖² − 2 g_k·μ + ‖μ‖².
        var meanSquaredNorm = 0.0
        for j in 0..<g.width { meanSquaredNorm += means[j] * means[j] }
        let centredNorms = means.withUnsafeBufferPointer { m in
            (0..<g.count).mapInParallel(chunk: 64, pool: pool) { k in
                max(0, g.norms[k] * g.norms[k] - 2 * g.dot(m.baseAddress!, row: k) + meanSquaredNorm).squareRoot()
            }
        }
        self.means = means
        self.inverseVariances = inverseVariances
        self.norms = norms
        self.centredNorms = centredNorms
    }

    /// Every document's standardised cosine with `query` (in the rows' representation).
    public func standardizedScores<Rows: ScoringRows>(_ g: Rows, query: Rows.Query, pool: WorkerPool) -> [Double] {
        precondition(g.width == means.count && g.count == norms.count, "the standardisation belongs to other rows")
        let v = g.values(of: query, columns: 0..<g.width)
        var w = [Double](repeating: 0, count: g.width)
        var queryNormSquared = 0.0, offset = 0.0
        for j in 0..<g.width {
            let centred = v[j] - means[j]
            w[j] = centred * inverseVariances[j]
            queryNormSquared += centred * w[j]
            offset += w[j] * means[j]
        }
        let queryNorm = queryNormSquared.squareRoot()
        return w.withUnsafeBufferPointer { w in
            (0..<g.count).mapInParallel(chunk: 64, pool: pool) { k in
                norms[k] > 0 && queryNorm > 0 ? (g.dot(w.baseAddress!, row: k) - offset) / (norms[k] * queryNorm) : 0
            }
        }
    }

    /// Every document's cosine with the query `v` (`g.width` values, as given, not yet in the
    /// rows' representation) after both are centred on `means`. The centred query is what
    /// goes into the rows' representation (`g.query`: int8 levels for an index), so the
    /// numerator `c·g_k − c·μ` is one plain inner product per row.
    /// With `rows`, only those documents are scored.
    public func centredScores<Rows: ScoringRows>(_ g: Rows, query v: [Float], pool: WorkerPool, rows: Range<Int>? = nil) -> [Double] {
        centredScores(g, centredQuery: centred(v), pool: pool, rows: rows)
    }

    /// `v − μ` in float64.
    public func centred(_ v: [Float]) -> [Double] {
        precondition(v.count == means.count, "the standardisation belongs to other rows")
        return v.indices.map { Double(v[$0]) - means[$0] }
    }

    /// `centredScores` of a query already centred on `means` (`c = v − μ`, in float64).
    public func centredScores<Rows: ScoringRows>(_ g: Rows, centredQuery c: [Double], pool: WorkerPool, rows: Range<Int>? = nil) -> [Double] {
        let query = CentredQuery(g, centred: c, standardization: self)
        return (rows ?? 0..<g.count).mapInParallel(chunk: 64, pool: pool) { k in
            centredScore(g.dot(query.query, row: k, columns: 0..<g.width), row: k, of: query)
        }
    }

    /// Row `k`'s centred cosine with `query`, from their plain inner product `dot`.
    @inline(__always)
    func centredScore<Query>(_ dot: Double, row k: Int, of query: CentredQuery<Query>) -> Double {
        centredNorms[k] > 0 && query.norm > 0 ? (dot - query.offset) / (centredNorms[k] * query.norm) : 0
    }
}

/// A query centred on a standardisation's means and put into the rows' representation, with
/// what its centred cosines need: `c·μ` (`offset`) and `‖c‖` as represented.
struct CentredQuery<Query> {
    let query: Query
    let offset: Double
    let norm: Double

    init<Rows: ScoringRows>(_ g: Rows, centred c: [Double], standardization: FeatureStandardization) where Rows.Query == Query {
        let means = standardization.means
        precondition(g.width == means.count && g.count == standardization.norms.count && c.count == g.width, "the standardisation belongs to other rows")
        query = g.query(c.map { Float($0) })
        let represented = g.values(of: query, columns: 0..<g.width)
        var offset = 0.0
        for j in 0..<g.width { offset += represented[j] * means[j] }
        self.offset = offset
        norm = g.squaredNorm(query).squareRoot()
    }
}
