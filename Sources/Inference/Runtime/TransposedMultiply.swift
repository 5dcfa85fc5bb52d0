import COpenBLAS

/// One term `dY · W` of a transposed product: `dy` holds `weights.rows` values per row,
/// `dyStride` floats apart.
struct TransposedTerm {
    let weights: WeightMatrix
    let dy: UnsafePointer<Float>
    let dyStride: Int
}

extension MatrixMultiply {
    /// Blocks of 32 columns per work chunk of a transposed product (6 chunks for 576 columns).
    static let transposedChunkBlocks = 3
    /// Matrix rows decoded per tile of a transposed product (`8192 × 96` floats, 3 MiB).
    static let transposedTileRows = 8192

    /// `dX = Σ_t dY_t · W_t` (or `dX +=` it with `accumulate`) for `batch` rows: the gradient
    /// of `run`'s products with respect to their inputs, the matrices frozen. Every term's
    /// matrix has `dX`'s width as its columns.
    ///
    /// The columns of `dX` are cut into chunks of `transposedChunkBlocks` 32-value blocks; one
    /// thread computes a chunk, decoding the matching column slice of each matrix
    /// `transposedTileRows` rows at a time (every weight decoded once) and adding `dY · tile`
    /// with `sgemm` in a fixed order. Chunks and tiles do not depend on the thread count, so
    /// neither do the sums. Even a few rows take the tiles: adding decoded blocks straight into
    /// the rows of `dX` was measured 1.7–7× slower at 8–16 rows (the head's 49,152 rows
    /// serialise on `dX`'s loads and stores).
    static func runTransposed(
        _ terms: [TransposedTerm], batch: Int, into dx: UnsafeMutablePointer<Float>, dxStride: Int, accumulate: Bool,
        pool: WorkerPool, scratch: ScratchSpace
    ) {
        guard batch > 0, let columns = terms.first?.weights.columns else { return }
        assert(terms.allSatisfy { $0.weights.columns == columns }, "transposed terms must share their input width")
        assert(dxStride >= columns, "dX rows overlap")
        let blocks = columns / 32, chunkBlocks = transposedChunkBlocks
        let chunks = (blocks + chunkBlocks - 1) / chunkBlocks
        assert(transposedTileRows * 32 * chunkBlocks <= scratch.floatsPerMember, "transposed tiles exceed the scratch space")
        pool.forEachChunk(chunks, chunk: 1) { member, range in
            let tile = scratch.buffer(member: member)
            for chunk in range {
                let blockRange = (chunk * chunkBlocks)..<min(blocks, (chunk + 1) * chunkBlocks)
                let width = 32 * blockRange.count
                let tileRows = transposedTileRows
                var beta: Float = accumulate ? 1 : 0
                for term in terms {
                    for start in stride(from: 0, to: term.weights.rows, by: tileRows) {
                        let rows = start..<min(term.weights.rows, start + tileRows)
                        term.weights.dequantize(rows: rows, blocks: blockRange, into: tile)
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(width), Int32(rows.count),
                            1, term.dy + rows.lowerBound, Int32(term.dyStride), tile, Int32(width),
                            beta, dx + 32 * blockRange.lowerBound, Int32(dxStride))
                        beta = 1
                    }
                }
            }
        }
    }
}
