import Inference

/// How a document's training gradient and the query's gradient become a score. Positive
/// scores mean the document helped the answer (its gradient step lowers the query's loss).
public enum InfluenceMethod: String, Sendable, CaseIterable {
    /// DataInf (Kwon et al., ICLR 2024), per block `l` with `n` documents' gradients `g_li`
    /// and the query's `v_l`: `λ_l = 0.1 · mean_i ‖g_li‖² / d_l` and
    /// `score_k = Σ_l (1/(n·λ_l)) Σ_i [v_l·g_lk − (v_l·g_li)(g_li·g_lk)/(λ_l + ‖g_li‖²)]`.
    case datainf
    /// `v · g_k`: the first-order change of the query loss from a step on document `k`.
    case dot
    /// `v · g_k / (‖v‖ ‖g_k‖)`.
    case cosine

    /// What `tributary attribute` and serving use when no method is named: the method that
    /// measures best on `tributary bench attribution` (BENCHMARKS.md).
    public static let defaultMethod = InfluenceMethod.cosine
}

/// Documents' gradient vectors (exact, or projected features) split into blocks, with what
/// every query's scoring reuses: each document's squared norm per block.
public struct GradientMatrix: Sendable {
    /// `count × width` values, row-major.
    public let values: [Float]
    public let count: Int
    public let width: Int
    /// Each block's columns, in order, covering `0..<width`.
    public let blocks: [Range<Int>]
    /// `‖g_li‖²` per document and block, `count × blocks.count`.
    public let squaredNorms: [Double]

    public init(rows: [[Float]], blocks: [Range<Int>]) {
        precondition(!rows.isEmpty, "scoring needs documents")
        let width = rows[0].count
        precondition(rows.allSatisfy { $0.count == width } && blocks.first?.lowerBound == 0 && blocks.last?.upperBound == width
                     && zip(blocks, blocks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "blocks must tile the rows")
        self.values = rows.flatMap { $0 }
        self.count = rows.count
        self.width = width
        self.blocks = blocks
        var norms = [Double](repeating: 0, count: rows.count * blocks.count)
        for (k, row) in rows.enumerated() {
            for (l, block) in blocks.enumerated() { norms[k * blocks.count + l] = Self.dot(row, row, block) }
        }
        squaredNorms = norms
    }

    /// `a·b` over `range`, summed in float64 in index order.
    static func dot(_ a: [Float], _ b: [Float], _ range: Range<Int>) -> Double {
        var sum = 0.0
        for i in range { sum += Double(a[i]) * Double(b[i]) }
        return sum
    }
}

/// Scores every document of a `GradientMatrix` against one query gradient, in arithmetic
/// whose order is fixed by the data alone: per-document sums run in one piece on whichever
/// thread takes the document, and sums over documents run in document order, so scores are
/// bit-identical across runs and thread counts.
public enum InfluenceScorer {
    /// Every document's score by `method`, computed on `pool`.
    public static func scores(_ method: InfluenceMethod, documents g: GradientMatrix, query v: [Float], pool: WorkerPool) -> [Double] {
        precondition(v.count == g.width, "query gradient of \(v.count) values for \(g.width)-wide documents")
        switch method {
        case .dot:
            return perDocument(g, pool) { row in GradientMatrix.dot(v, row, 0..<g.width) }
        case .cosine:
            let queryNorm = GradientMatrix.dot(v, v, 0..<g.width).squareRoot()
            return perDocument(g, pool) { row in
                let norm = GradientMatrix.dot(row, row, 0..<g.width).squareRoot()
                return norm > 0 && queryNorm > 0 ? GradientMatrix.dot(v, row, 0..<g.width) / (norm * queryNorm) : 0
            }
        case .datainf:
            return dataInf(g, v, pool)
        }
    }

    /// DataInf rewritten with `c_i = (v_l·g_li)/(λ_l + ‖g_li‖²)` and `w_l = Σ_i c_i g_li` as
    /// `score_k = Σ_l (n v_l − w_l)·g_lk / (n λ_l)`: three passes over the matrix instead of n.
    static func dataInf(_ g: GradientMatrix, _ v: [Float], _ pool: WorkerPool) -> [Double] {
        let n = g.count, blockCount = g.blocks.count
        // v_l·g_li for every document and block.
        let queryDots = g.values.withUnsafeBufferPointer { values in
            (0..<n).mapInParallel(chunk: 16, pool: pool) { k in
                g.blocks.map { block in
                    var sum = 0.0
                    for j in block { sum += Double(v[j]) * Double(values[k * g.width + j]) }
                    return sum
                }
            }.flatMap { $0 }
        }
        var lambdas = [Double](repeating: 0, count: blockCount)
        for l in 0..<blockCount {
            var total = 0.0
            for k in 0..<n { total += g.squaredNorms[k * blockCount + l] }
            lambdas[l] = 0.1 * total / Double(n) / Double(g.blocks[l].count)
        }
        // u_l = (n v_l − w_l) / (n λ_l), w_l = Σ_i c_i g_li: each column summed over documents in order.
        let u: [Double] = g.values.withUnsafeBufferPointer { values in
            (0..<g.width).mapInParallel(chunk: 64, pool: pool) { j in
                let l = g.blocks.firstIndex { $0.contains(j) }!
                // A block whose gradients are all zero (λ = 0) adds nothing to any score.
                guard lambdas[l] > 0 else { return 0 }
                var w = 0.0
                for i in 0..<n {
                    let c = queryDots[i * blockCount + l] / (lambdas[l] + g.squaredNorms[i * blockCount + l])
                    w += c * Double(values[i * g.width + j])
                }
                return (Double(n) * Double(v[j]) - w) / (Double(n) * lambdas[l])
            }
        }
        return perDocument(g, pool) { row in
            var sum = 0.0
            for j in 0..<g.width { sum += u[j] * Double(row[j]) }
            return sum
        }
    }

    /// `body(row)` for every document, in parallel, in document order.
    static func perDocument(_ g: GradientMatrix, _ pool: WorkerPool, _ body: ([Float]) -> Double) -> [Double] {
        (0..<g.count).mapInParallel(chunk: 16, pool: pool) { k in body(Array(g.values[(k * g.width)..<((k + 1) * g.width)])) }
    }
}

extension Range<Int> {
    /// `transform` of every element, computed in chunks on `pool`, in order.
    func mapInParallel<T>(chunk: Int, pool: WorkerPool, _ transform: (Int) -> T) -> [T] {
        let chunks = (count + chunk - 1) / chunk
        var parts = [[T]](repeating: [], count: chunks)
        parts.withUnsafeMutableBufferPointer { parts in
            pool.forEachChunk(chunks, chunk: 1) { _, range in
                for c in range { parts[c] = (lowerBound + c * chunk..<Swift.min(upperBound, lowerBound + (c + 1) * chunk)).map(transform) }
            }
        }
        return parts.flatMap { $0 }
    }
}
