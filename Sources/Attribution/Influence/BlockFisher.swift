import COpenBLAS
import Inference

/// The damped empirical Fisher of each gradient block, factorised once per set of rows, for
/// `InfluenceMethod.fisher`: the influence function with LoGra / EK-FAC-style curvature in
/// the projected space (Choe et al. 2024; Grosse et al. 2023), block-diagonal over DataInf's
/// blocks.
///
/// Block `l` of `n` documents' gradients `g_li` (`d_l` values each) has the Fisher
/// `F_l = (1/n) Σ_i g_li g_liᵀ` and the damping `λ_l = dampingShare · mean_i ‖g_li‖²`, a share
/// of `F_l`'s trace. The trace, unlike the mean eigenvalue (`trace / d_l`), is the same for
/// full gradients and for their projection (which keeps norms), so the index's scores follow
/// the exact ones (docs/attribution-experiments.md, "The damping since `hybrid`"). A query's
/// `v_l` becomes `u_l = (F_l + λ_l I)⁻¹ v_l`, and document `k` scores `Σ_l u_l · g_lk`
/// (`InfluenceScorer` quantizes `u` as any query, so on an index that is one integer inner
/// product per row).
///
/// A block with no more values than documents keeps the Cholesky factor of `F_l + λ_l I`
/// (`d_l × d_l`); a wider one (the full gradients of a small datanet, or a wide block of a
/// small index) keeps that of `nλ_l I + G_l G_lᵀ` (`n × n`) and solves through Woodbury's
/// identity, `(F_l + λ_l I)⁻¹ v = (v − G_lᵀ (nλ_l I + G_l G_lᵀ)⁻¹ G_l v) / λ_l`. Each block's
/// products and factorisation run on one thread (single-threaded BLAS and LAPACK in
/// float64), and a query's sums over documents run in document order, so the results do not
/// depend on the thread count. The factors are kept in float32, which halves the memory a
/// query's two triangular solves read (their whole cost): the damping bounds each system's
/// condition number by `1 + 1/dampingShare`, so float32 loses nothing the int8 query keeps.
/// Memory: `Σ_l min(d_l, n)²` float32s — about 165 MB for a 32,760-feature index of at
/// least 4,608 documents.
public struct BlockFisher: Sendable {
    /// The share of each block's trace added to its diagonal (chosen on `bench attribution`
    /// with its fidelity check; docs/attribution-experiments.md).
    public static let dampingShare = 0.01
    /// Rows whose block values are formed at a time while the Fisher is summed.
    static let rowsPerPass = 1_024

    /// One block's factorised system.
    struct Factor: Sendable {
        let columns: Range<Int>
        let lambda: Double
        /// Whether `cholesky` is of `nλI + GGᵀ` (documents × documents) rather than of `F + λI`.
        let dual: Bool
        /// The upper Cholesky factor in column-major order (LAPACK's `dpotrf`, `uplo = "U"`),
        /// rounded to float32 (the lower triangle is not read).
        let cholesky: [Float]
    }

    let factors: [Factor]
    let rowCount: Int

    public init<Rows: ScoringRows>(_ g: Rows, pool: WorkerPool) {
        let n = g.count, blockCount = g.blocks.count
        precondition(n >= 1, "the Fisher needs documents")
        rowCount = n
        factors = (0..<blockCount).mapInParallel(chunk: 1, pool: pool) { l in
            let block = g.blocks[l], d = block.count
            var total = 0.0
            for k in 0..<n { total += g.squaredNorms[k * blockCount + l] }
            let lambda = Self.dampingShare * total / Double(n)
            // A block whose gradients are all zero adds nothing to any score.
            guard lambda > 0 else { return Factor(columns: block, lambda: 0, dual: false, cholesky: []) }
            // The documents' Gram matrix takes every row in one product; the Fisher sums passes.
            let dual = d > n, size = dual ? n : d, rowsPerPass = dual ? n : Self.rowsPerPass
            var system = [Double](repeating: 0, count: size * size)
            system.withUnsafeMutableBufferPointer { system in
                let s = system.baseAddress!
                for start in stride(from: 0, to: n, by: rowsPerPass) {
                    let rows = start..<min(n, start + rowsPerPass)
                    var values = [Double](repeating: 0, count: rows.count * d)
                    values.withUnsafeMutableBufferPointer { values in
                        for (index, k) in rows.enumerated() { g.add(1, row: k, columns: block, into: values.baseAddress! + index * d) }
                        // Row-major lower triangle = column-major upper triangle, which dpotrf reads.
                        if dual {
                            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, Int32(n), Int32(d), 1, values.baseAddress!, Int32(d), 0, s, Int32(n))
                        } else {
                            cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(rows.count), 1 / Double(n),
                                        values.baseAddress!, Int32(d), start == 0 ? 0 : 1, s, Int32(d))
                        }
                    }
                }
                let diagonal = dual ? Double(n) * lambda : lambda
                for i in 0..<size { s[i * size + i] += diagonal }
                var order = Int32(size), info: Int32 = 0
                dpotrf_("U", &order, s, &order, &info)
                precondition(info == 0, "a damped Fisher block is positive definite (dpotrf info \(info))")
            }
            return Factor(columns: block, lambda: lambda, dual: dual, cholesky: system.map { Float($0) })
        }
    }

    /// `u = (F + λI)⁻¹ v`, block by block, as wide as the rows.
    public func preconditioned<Rows: ScoringRows>(_ g: Rows, query v: [Float], pool: WorkerPool) -> [Double] {
        precondition(g.count == rowCount && v.count == g.width && factors.count == g.blocks.count, "the Fisher belongs to other rows")
        return (0..<factors.count).mapInParallel(chunk: 1, pool: pool) { l -> [Double] in
            let factor = factors[l], block = factor.columns
            let query = block.map { Double(v[$0]) }
            guard factor.lambda > 0 else { return [Double](repeating: 0, count: block.count) }
            guard factor.dual else { return Self.solve(factor.cholesky, query) }
            // Woodbury: c = (nλI + GGᵀ)⁻¹ G v, u = (v − Gᵀ c) / λ, the documents in order.
            let projected = query.withUnsafeBufferPointer { q in (0..<rowCount).map { g.dot(q.baseAddress!, row: $0, columns: block) } }
            let c = Self.solve(factor.cholesky, projected)
            var back = [Double](repeating: 0, count: block.count)
            back.withUnsafeMutableBufferPointer { back in
                for k in 0..<rowCount { g.add(c[k], row: k, columns: block, into: back.baseAddress!) }
            }
            return zip(query, back).map { ($0 - $1) / factor.lambda }
        }.flatMap { $0 }
    }

    /// `x` with `(UᵀU) x = b` for the upper Cholesky factor `U`: `Uᵀ y = b`, then `U x = y`.
    static func solve(_ cholesky: [Float], _ b: [Double]) -> [Double] {
        precondition(cholesky.count == b.count * b.count, "one factor entry per pair of the system's unknowns")
        var x = b.map { Float($0) }
        let order = Int32(b.count)
        cholesky.withUnsafeBufferPointer { u in
            x.withUnsafeMutableBufferPointer { x in
                cblas_strsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, order, u.baseAddress!, order, x.baseAddress!, 1)
                cblas_strsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, order, u.baseAddress!, order, x.baseAddress!, 1)
            }
        }
        return x.map { Double($0) }
    }
}
