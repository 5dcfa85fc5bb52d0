import COpenBLAS

/// One product `y = x · Wᵀ` over a batch: `x` holds one activation vector per row
/// (`xStride` floats apart), `y` receives `weights.rows` outputs per row (`yStride` apart).
struct MatrixProduct {
    let weights: WeightMatrix
    let x: UnsafePointer<Float>
    let xStride: Int
    let y: UnsafeMutablePointer<Float>
    let yStride: Int
}

/// Runs matrix products on the worker pool, choosing per batch size between decoding
/// blocks inside register dot products (few vectors: memory bound, weights read once) and
/// decoding tiles to float32 for OpenBLAS `sgemm` (many vectors: compute bound).
enum MatrixMultiply {
    /// Largest batch computed with the register kernels; larger batches use `sgemm`.
    static let registerKernelBatchMax = 8
    /// Output rows per thread work unit, so threads write disjoint cache lines.
    static let rowGranularity = 16

    /// Computes every product for `batch` activation rows; products may run concurrently,
    /// so no product may read another's output.
    static func run(_ products: [MatrixProduct], batch: Int, pool: WorkerPool, scratch: ScratchSpace) {
        guard batch > 0, !products.isEmpty else { return }
        if batch <= registerKernelBatchMax {
            let total = products.reduce(0) { $0 + $1.weights.rows }
            pool.forEachRange(total, granularity: rowGranularity) { range in
                var start = 0
                for product in products {
                    let lower = max(range.lowerBound, start), upper = min(range.upperBound, start + product.weights.rows)
                    if lower < upper {
                        product.weights.multiply(
                            rows: (lower - start)..<(upper - start), x: product.x, xStride: product.xStride,
                            vectors: batch, y: product.y, yStride: product.yStride)
                    }
                    start += product.weights.rows
                }
            }
        } else {
            pool.run { member in
                let tile = scratch.buffer(member: member)
                for product in products {
                    let rows = product.weights.rows, columns = product.weights.columns
                    let units = (rows + rowGranularity - 1) / rowGranularity
                    let start = min(rows, units * member / pool.threadCount * rowGranularity)
                    let end = min(rows, units * (member + 1) / pool.threadCount * rowGranularity)
                    let tileRows = max(rowGranularity, scratch.floatsPerMember / columns / rowGranularity * rowGranularity)
                    var row = start
                    while row < end {
                        let count = min(tileRows, end - row)
                        product.weights.dequantize(rows: row..<(row + count), into: tile)
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(count), Int32(columns),
                            1, product.x, Int32(product.xStride), tile, Int32(columns), 0, product.y + row, Int32(product.yStride))
                        row += count
                    }
                }
            }
        }
    }
}

/// Per-thread float32 buffers for decoded weight tiles.
final class ScratchSpace: @unchecked Sendable {
    /// Floats in each member's buffer.
    let floatsPerMember: Int
    private let buffers: [UnsafeMutablePointer<Float>]

    init(members: Int, floatsPerMember: Int) {
        self.floatsPerMember = floatsPerMember
        self.buffers = (0..<members).map { _ in .allocate(capacity: floatsPerMember) }
    }

    deinit { buffers.forEach { $0.deallocate() } }

    func buffer(member: Int) -> UnsafeMutablePointer<Float> { buffers[member] }
}
