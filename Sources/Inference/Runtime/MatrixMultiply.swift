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
    /// Largest batch of the register-kernel range that uses int8 activations when the engine
    /// asks for them; from about five vectors on, the float32 register kernels (which decode
    /// each weight block once for all vectors) are faster. The broadcast range (9–32) has int8
    /// kernels of its own.
    static let int8BatchMax = 4
    /// Largest batch computed with `BroadcastKernels`; larger batches use `sgemm`.
    static let broadcastKernelBatchMax = 32
    /// Activation blocks per work chunk when the broadcast kernels' inputs are quantized.
    static let quantizeChunkBlocks = 6
    /// Output rows per thread work unit, so threads write disjoint cache lines.
    static let rowGranularity = 16

    /// Whether `run` fetches its `prefetch` plan for a batch of `batch` vectors: only the
    /// int8 broadcast kernels do (x86-64).
    static func prefetches(batch: Int, activations: ActivationPrecision) -> Bool {
        #if arch(x86_64)
        activations == .int8 && batch > registerKernelBatchMax && batch <= broadcastKernelBatchMax
        #else
        false
        #endif
    }

    /// Computes every product for `batch` activation rows; products may run concurrently,
    /// so no product may read another's output. Work is dealt out in chunks of output rows
    /// to whichever thread is free.
    /// With `int8` activations, batches of 9–32 vectors read their weights from `int8Tiles`,
    /// which must hold every product's matrix, and fetch `prefetch` toward the cache as they go.
    static func run(
        _ products: [MatrixProduct], batch: Int, pool: WorkerPool, scratch: ScratchSpace,
        activations: ActivationPrecision = .float32, int8Tiles: Int8Tiles? = nil, prefetch: PrefetchPlan = .none
    ) {
        guard batch > 0, !products.isEmpty else { return }
        if batch <= registerKernelBatchMax {
            let precision = batch <= int8BatchMax ? activations : .float32
            let inputs = products.map { RegisterKernelInput($0, vectors: batch, activations: precision) }
            forEachRowChunk(products, pool: pool) { index, product, rows, _ in
                inputs[index].multiply(product, rows: rows, vectors: batch)
            }
        } else if batch <= broadcastKernelBatchMax {
            #if arch(x86_64)
            if activations == .int8, products.allSatisfy({ Int8Activations.applies(to: $0.weights.type) }) {
                guard let int8Tiles else { preconditionFailure("int8 broadcast products need decoded tiles") }
                runInt8Broadcast(products, batch: batch, pool: pool, scratch: scratch, tiles: int8Tiles, prefetch: prefetch)
                return
            }
            #endif
            runBroadcast(products, batch: batch, pool: pool, scratch: scratch)
        } else {
            // Each tile is multiplied by the whole batch with sgemm.
            forEachDecodedTile(products, perThread: 2, pool: pool, scratch: scratch) { product, _, rows, tile in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(rows.count), Int32(product.weights.columns),
                    1, product.x, Int32(product.xStride), tile, Int32(product.weights.columns), 0,
                    product.y + rows.lowerBound, Int32(product.yStride))
            }
        }
    }

    /// Splits every product's rows into tiles (about `perThread` per thread), and on the pool
    /// decodes each tile to float32 in its thread's buffer and hands it to `body` with the
    /// product, its index and the tile's rows.
    static func forEachDecodedTile(
        _ products: [MatrixProduct], perThread: Int, pool: WorkerPool, scratch: ScratchSpace,
        _ body: (MatrixProduct, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void
    ) {
        var tiles: [(product: Int, rows: Range<Int>)] = []
        for (index, product) in products.enumerated() {
            let rows = product.weights.rows
            let tileRows = min(scratch.floatsPerMember / product.weights.columns, chunkRows(rows, threads: pool.threadCount, perThread: perThread))
            for start in stride(from: 0, to: rows, by: tileRows) { tiles.append((index, start..<min(rows, start + tileRows))) }
        }
        pool.forEachChunk(tiles.count, chunk: 1) { member, range in
            let buffer = scratch.buffer(member: member)
            for tile in tiles[range] {
                let product = products[tile.product]
                product.weights.dequantize(rows: tile.rows, into: buffer)
                body(product, tile.product, tile.rows, buffer)
            }
        }
    }

    /// Deals the products' rows, taken end to end, out in guided chunks (multiples of
    /// `rowGranularity`, shrinking as the rows run out) and hands `body` each product's part
    /// of a chunk: its index, the product, the rows, and where the product's first row lies
    /// among all products' rows.
    static func forEachRowChunk(_ products: [MatrixProduct], pool: WorkerPool, _ body: (Int, MatrixProduct, Range<Int>, Int) -> Void) {
        let total = products.reduce(0) { $0 + $1.weights.rows }
        pool.forEachGuidedChunk(total, granularity: rowGranularity) { _, range in
            var start = 0
            for (index, product) in products.enumerated() {
                let lower = max(range.lowerBound, start), upper = min(range.upperBound, start + product.weights.rows)
                if lower < upper { body(index, product, (lower - start)..<(upper - start), start) }
                start += product.weights.rows
            }
        }
    }

    /// Batches of 9–32 vectors: the activations are transposed once into 16 or 32 lanes, then
    /// tiles of rows are decoded to float32 and multiplied by `BroadcastKernels`.
    static func runBroadcast(_ products: [MatrixProduct], batch: Int, pool: WorkerPool, scratch: ScratchSpace) {
        let lanes = batch <= 16 ? 16 : 32
        var transposed: [UnsafePointer<Float>] = []
        var offset = 0
        for product in products {
            let columns = product.weights.columns
            let xT = scratch.activations(offset: offset, count: columns * lanes)
            xT.initialize(repeating: 0, count: columns * lanes)
            for vector in 0..<batch {
                let x = product.x + vector * product.xStride
                for column in 0..<columns { xT[column * lanes + vector] = x[column] }
            }
            transposed.append(UnsafePointer(xT))
            offset += columns * lanes
        }
        forEachDecodedTile(products, perThread: 4, pool: pool, scratch: scratch) { product, index, rows, tile in
            BroadcastKernels.multiply(
                tile: tile, rows: rows.count, columns: product.weights.columns, xT: transposed[index], lanes: lanes,
                batch: batch, y: product.y + rows.lowerBound, yStride: product.yStride)
        }
    }

    #if arch(x86_64)
    /// Batches of 9–32 vectors with int8 activations: each distinct input is quantized and
    /// transposed once, then chunks of rows are multiplied by `Int8BroadcastKernels` straight
    /// from the matrices' decoded `tiles`.
    static func runInt8Broadcast(_ products: [MatrixProduct], batch: Int, pool: WorkerPool, scratch: ScratchSpace, tiles: Int8Tiles, prefetch: PrefetchPlan) {
        // Each distinct input is quantized once, its blocks spread over the pool.
        var quantized: [UnsafeRawPointer] = []
        var byInput: [UnsafePointer<Float>: UnsafeRawPointer] = [:]
        var inputs: [(product: MatrixProduct, target: UnsafeMutableRawPointer, firstBlock: Int)] = []
        var offset = 0, blockCount = 0
        for product in products {
            if let done = byInput[product.x] {
                quantized.append(done)
                continue
            }
            let blocks = product.weights.columns / 32
            let floats = (Int8Activations.transposedBytes(blocks: blocks) + 3) / 4
            let target = UnsafeMutableRawPointer(scratch.activations(offset: offset, count: floats))
            inputs.append((product, target, blockCount))
            quantized.append(UnsafeRawPointer(target))
            byInput[product.x] = UnsafeRawPointer(target)
            offset += floats
            blockCount += blocks
        }
        pool.forEachChunk(blockCount, chunk: quantizeChunkBlocks) { _, range in
            for input in inputs {
                let blocks = input.product.weights.columns / 32
                let first = max(range.lowerBound, input.firstBlock), end = min(range.upperBound, input.firstBlock + blocks)
                guard first < end else { continue }
                let block = first - input.firstBlock
                Int8Activations.quantizeTransposed(
                    x: input.product.x + 32 * block, xStride: input.product.xStride, vectors: batch, blocks: end - first,
                    into: input.target + block * Int8Activations.transposedBlockBytes)
            }
        }
        let decoded = products.map { product in
            guard let tile = tiles.tiles(of: product.weights) else { preconditionFailure("no decoded tiles for a \(product.weights.rows)×\(product.weights.columns) matrix") }
            return tile
        }
        let total = products.reduce(0) { $0 + $1.weights.rows }
        forEachRowChunk(products, pool: pool) { index, product, rows, firstRow in
            let blocks = product.weights.columns / 32
            let share = (firstRow + rows.lowerBound)..<(firstRow + rows.upperBound)
            var cursor = prefetch.cursor(part: share, of: total, steps: rows.count * blocks)
            Int8BroadcastKernels.multiply(
                product.weights.type, tile: decoded[index] + rows.lowerBound * blocks * Int8BroadcastKernels.decodedBlockBytes,
                rows: rows.count, blocks: blocks, x: quantized[index], batch: batch, y: product.y + rows.lowerBound, yStride: product.yStride,
                prefetch: &cursor)
        }
    }
    #endif

    /// What the register kernels read besides the weights: the sums of each 32-value block
    /// of each activation vector (float32 kernels), or the vectors quantized to 8 bits (on
    /// x86-64, the only architecture with int8 kernels; elsewhere `int8` computes in float32).
    enum RegisterKernelInput {
        case blockSums([Float])
        #if arch(x86_64)
        case int8(bytes: [UInt8], vectorBytes: Int)
        #endif

        init(_ product: MatrixProduct, vectors: Int, activations: ActivationPrecision) {
            #if arch(x86_64)
            let type = product.weights.type, blocks = product.weights.columns / 32
            guard activations == .int8, Int8Activations.applies(to: type) else {
                self = .blockSums(MatrixMultiply.blockSums(product, vectors: vectors))
                return
            }
            let vectorBytes = Int8Activations.vectorBytes(type, blocks: blocks)
            let bytes = [UInt8](unsafeUninitializedCapacity: vectors * vectorBytes) { buffer, count in
                Int8Activations.quantize(type, x: product.x, xStride: product.xStride, vectors: vectors, blocks: blocks, into: buffer.baseAddress!)
                count = vectors * vectorBytes
            }
            self = .int8(bytes: bytes, vectorBytes: vectorBytes)
            #else
            self = .blockSums(MatrixMultiply.blockSums(product, vectors: vectors))
            #endif
        }

        func multiply(_ product: MatrixProduct, rows: Range<Int>, vectors: Int) {
            switch self {
            case let .blockSums(sums):
                sums.withUnsafeBufferPointer { sums in
                    product.weights.multiply(
                        rows: rows, x: product.x, xStride: product.xStride, blockSums: sums.baseAddress!, vectors: vectors,
                        y: product.y, yStride: product.yStride)
                }
            #if arch(x86_64)
            case let .int8(bytes, vectorBytes):
                bytes.withUnsafeBytes { bytes in
                    product.weights.multiply(
                        rows: rows, int8Activations: bytes.baseAddress!, vectorBytes: vectorBytes, vectors: vectors,
                        y: product.y, yStride: product.yStride)
                }
            #endif
            }
        }
    }

    /// Sums of each 32-value block of each activation vector, for the factored kernels.
    static func blockSums(_ product: MatrixProduct, vectors: Int) -> [Float] {
        let blocks = product.weights.columns / 32
        return [Float](unsafeUninitializedCapacity: vectors * blocks) { buffer, count in
            for vector in 0..<vectors {
                let x = UnsafeRawPointer(product.x + vector * product.xStride)
                for block in 0..<blocks {
                    let p = x + block * 128
                    let sum = (p.loadUnaligned(as: SIMD8<Float>.self) + p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                        + (p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self) + p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                    buffer[vector * blocks + block] = laneSum(sum)
                }
            }
            count = vectors * blocks
        }
    }

    /// Rows per work chunk for about `perThread` chunks per thread, a whole multiple of
    /// `rowGranularity`. More chunks absorb threads slowed by other processes; fewer give
    /// `sgemm` wider tiles.
    static func chunkRows(_ rows: Int, threads: Int, perThread: Int) -> Int {
        let target = (rows + perThread * threads - 1) / (perThread * threads)
        return max(rowGranularity, (target + rowGranularity - 1) / rowGranularity * rowGranularity)
    }
}

/// Per-thread float32 buffers for decoded weight tiles.
final class ScratchSpace: @unchecked Sendable {
    /// Floats in each member's buffer.
    let floatsPerMember: Int
    private let buffers: [UnsafeMutablePointer<Float>]

    /// Transposed activations shared by all members (read-only while they run).
    private let activationBuffer: UnsafeMutablePointer<Float>
    private let activationFloats: Int

    /// Partial sums shared by all members (each writes its own part), grown on demand.
    private var partialBuffer: UnsafeMutablePointer<Float>
    private var partialFloats = 0

    init(members: Int, floatsPerMember: Int, activationFloats: Int) {
        self.floatsPerMember = floatsPerMember
        self.buffers = (0..<members).map { _ in .allocate(capacity: floatsPerMember) }
        self.activationFloats = activationFloats
        self.activationBuffer = .allocate(capacity: activationFloats)
        self.partialBuffer = .allocate(capacity: 0)
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        activationBuffer.deallocate()
        partialBuffer.deallocate()
    }

    /// At least `count` floats for partial sums, kept between calls; taken by the calling
    /// thread before it hands work to the pool.
    func partials(floats count: Int) -> UnsafeMutablePointer<Float> {
        if count > partialFloats {
            partialBuffer.deallocate()
            partialBuffer = .allocate(capacity: count)
            partialFloats = count
        }
        return partialBuffer
    }

    /// `count` floats of the shared activation buffer from `offset`.
    func activations(offset: Int, count: Int) -> UnsafeMutablePointer<Float> {
        precondition(offset + count <= activationFloats, "transposed activations exceed the scratch space")
        return activationBuffer + offset
    }

    func buffer(member: Int) -> UnsafeMutablePointer<Float> { buffers[member] }
}
