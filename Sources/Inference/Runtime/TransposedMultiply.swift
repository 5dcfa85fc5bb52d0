import COpenBLAS

/// One term `dY · W` of a transposed product: `dy` holds `weights.rows` values per row,
/// `dyStride` floats apart.
struct TransposedTerm {
    let weights: WeightMatrix
    let dy: UnsafePointer<Float>
    let dyStride: Int
}

extension MatrixMultiply {
    /// Parts the terms' matrix rows are split into, whatever the thread count: part 0 adds
    /// into `dX`, the others into partial sums added to it afterwards in part order. On two
    /// cores 4 and 8 parts took as long for query gradients of 26 and 34 rows, and 8 was
    /// faster for a 512-row training batch (1.75 s against 1.84–1.96 s); 16 was slower for both.
    static let transposedParts = 8
    /// Matrix rows decoded per tile of a transposed product (at most `64 × 1536` floats,
    /// 384 KiB; 64 measured best of 16–256 for a 26-row query gradient, and 512-row training
    /// batches take about as long with 64 as with 128 or 256).
    static let transposedTileRows = 64

    /// `dX = Σ_t dY_t · W_t` for `batch` rows: the gradient of `run`'s products with respect
    /// to their inputs, the matrices frozen. Every term's matrix has `dX`'s width as its columns.
    ///
    /// The terms' matrix rows, taken end to end, are cut into `transposedParts` equal parts.
    /// One thread takes a part: it decodes the part's rows `transposedTileRows` at a time —
    /// whole rows, so the quantized weights are read front to back, each once — and adds
    /// `dY · tile` with `sgemm` into the part's sum: `dX` itself for part 0, a partial sum for
    /// the others, which are then added to `dX` in part order. Parts and tiles do not depend
    /// on the thread count, so neither do the sums. (Decoding column slices of every row
    /// instead, each thread adding into its own columns of `dX`, read the weights with a
    /// stride: the query gradient of 26 rows took 136 ms against 105 ms, a 512-row training
    /// batch 1.7–2.0 s against 1.65–1.69 s.)
    static func runTransposed(
        _ terms: [TransposedTerm], batch: Int, into dx: UnsafeMutablePointer<Float>, dxStride: Int,
        pool: WorkerPool, scratch: ScratchSpace
    ) {
        guard batch > 0, let columns = terms.first?.weights.columns else { return }
        assert(terms.allSatisfy { $0.weights.columns == columns }, "transposed terms must share their input width")
        assert(dxStride >= columns, "dX rows overlap")
        assert(transposedTileRows * columns <= scratch.floatsPerMember, "transposed tiles exceed the scratch space")
        let parts = transposedParts, total = terms.reduce(0) { $0 + $1.weights.rows }
        let partials = scratch.partials(floats: (parts - 1) * batch * columns)
        func partRows(_ part: Int) -> Range<Int> { (part * total / parts)..<((part + 1) * total / parts) }

        pool.forEachChunk(parts, chunk: 1) { member, range in
            let tile = scratch.buffer(member: member)
            for part in range {
                let (sum, sumStride) = part == 0 ? (dx, dxStride) : (partials + (part - 1) * batch * columns, columns)
                var beta: Float = 0
                var termStart = 0
                for term in terms {
                    let termRows = termStart..<(termStart + term.weights.rows)
                    termStart = termRows.upperBound
                    let own = termRows.clamped(to: partRows(part))
                    for start in stride(from: own.lowerBound, to: own.upperBound, by: transposedTileRows) {
                        let rows = (start - termRows.lowerBound)..<(min(own.upperBound, start + transposedTileRows) - termRows.lowerBound)
                        term.weights.dequantize(rows: rows, into: tile)
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(columns), Int32(rows.count),
                            1, term.dy + rows.lowerBound, Int32(term.dyStride), tile, Int32(columns),
                            beta, sum, Int32(sumStride))
                        beta = 1
                    }
                }
                if beta == 0 {  // No rows in this part: its sum is zero.
                    for r in 0..<batch { (sum + r * sumStride).initialize(repeating: 0, count: columns) }
                }
            }
        }
        let chunk = max(1, (batch + 4 * pool.threadCount - 1) / (4 * pool.threadCount))
        pool.forEachChunk(batch, chunk: chunk) { _, range in
            for part in 1..<parts {
                let partial = partials + (part - 1) * batch * columns
                for r in range {
                    let target = dx + r * dxStride, source = partial + r * columns
                    for j in 0..<columns { target[j] += source[j] }
                }
            }
        }
    }
}
