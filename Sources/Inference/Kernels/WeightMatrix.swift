/// A weight matrix `[rows, columns]` (PyTorch's `[out_features, in_features]`) kept in its
/// stored encoding: rows are decoded block by block inside the kernels, so quantized
/// weights stay quantized in memory. Float matrices are used in place from their file;
/// quantized ones are copied once into the engine's `LaneLayout` (same size).
public struct WeightMatrix: @unchecked Sendable {
    /// Output features.
    public let rows: Int
    /// Input features (a multiple of 32).
    public let columns: Int
    /// The encoding of the values.
    public let type: TensorType
    let base: UnsafeRawPointer
    let rowBytes: Int
    /// Keeps the storage behind `base` alive.
    let owner: AnyObject

    /// Makes a matrix of a 2-D tensor. Rows must be whole 32-value blocks.
    public init(_ tensor: TensorData) throws(ModelFileError) {
        guard tensor.shape.count == 2 else { throw .malformed("tensor \(tensor.name) has shape \(tensor.shape), expected 2-D") }
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        guard columns % 32 == 0 else {
            throw .unsupported("tensor \(tensor.name) rows of \(columns) values (must be a multiple of 32)")
        }
        self.rows = rows
        self.columns = columns
        self.type = tensor.type
        if LaneLayout.applies(to: tensor.type) {
            self.rowBytes = LaneLayout.rowBytes(tensor.type, blocks: columns / 32)
            let storage = WeightStorage(byteCount: rows * rowBytes)
            LaneLayout.repack(tensor.type, rows: rows, blocks: columns / 32, from: tensor.bytes.baseAddress!, to: storage.base)
            self.base = UnsafeRawPointer(storage.base)
            self.owner = storage
        } else {
            self.rowBytes = tensor.type.byteCount(elements: columns)!
            self.base = tensor.bytes.baseAddress!
            self.owner = tensor.owner
        }
    }

    /// Bytes the matrix occupies.
    public var byteCount: Int { rows * rowBytes }

    /// `y[v * yStride + r] = Σ_c W[r, c] · x[v * xStride + c]` for `r` in `rowRange` and
    /// `v` in `0..<vectors`, straight from the encoded rows.
    /// `blockSums[v * columns / 32 + b]` holds the sum of vector `v`'s values in block `b`.
    func multiply(
        rows rowRange: Range<Int>, x: UnsafePointer<Float>, xStride: Int, blockSums: UnsafePointer<Float>, vectors: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        let blocks = columns / 32
        switch type {
        case .f32: RowKernels.multiply(F32Decoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        case .f16: RowKernels.multiply(F16Decoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        case .bf16: RowKernels.multiply(BF16Decoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        case .q4_0: RowKernels.multiply(Q4_0LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        case .q4_1: RowKernels.multiply(Q4_1LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        case .q8_0: RowKernels.multiply(Q8_0LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blocks, rows: rowRange, x: x, xStride: xStride, blockSums: blockSums, vectors: vectors, y: y, yStride: yStride)
        }
    }

    #if arch(x86_64)
    /// `multiply` against activations quantized by `Int8Activations` for this matrix's
    /// encoding (`vectorBytes` apart); only for encodings where `Int8Activations.applies`.
    func multiply(rows rowRange: Range<Int>, int8Activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int) {
        Int8RowKernels.multiply(
            type, weights: base, rowBytes: rowBytes, blocks: columns / 32, rows: rowRange,
            activations: int8Activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
    }
    #endif

    /// Writes rows `rowRange` as float32 into `target` (`columns` values per row).
    func dequantize(rows rowRange: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        dequantize(rows: rowRange, blocks: 0..<(columns / 32), into: target)
    }

    /// Writes the 32-column blocks `blockRange` of rows `rowRange` as float32 into `target`
    /// (`32 · blockRange.count` values per row): a column slice of the matrix.
    func dequantize(rows rowRange: Range<Int>, blocks blockRange: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        assert(blockRange.lowerBound >= 0 && blockRange.upperBound <= columns / 32, "blocks \(blockRange) outside the row")
        switch type {
        case .f32: RowKernels.dequantize(F32Decoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        case .f16: RowKernels.dequantize(F16Decoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        case .bf16: RowKernels.dequantize(BF16Decoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        case .q4_0: RowKernels.dequantize(Q4_0LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        case .q4_1: RowKernels.dequantize(Q4_1LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        case .q8_0: RowKernels.dequantize(Q8_0LaneDecoder.self, weights: base, rowBytes: rowBytes, blocks: blockRange, rows: rowRange, into: target)
        }
    }

    /// `W·x` for each vector `x` of `columns` floats, computed on the calling thread by the
    /// kernels the engine chooses for a batch of that many vectors, with `activations` precision.
    public func products(_ vectors: [[Float]], activations: ActivationPrecision = .float32) -> [[Float]] {
        precondition(vectors.allSatisfy { $0.count == columns }, "products: vectors must have \(columns) values")
        guard !vectors.isEmpty else { return [] }
        let x = vectors.flatMap { $0 }
        var y = [Float](repeating: 0, count: vectors.count * rows)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                let scratch = ScratchSpace(
                    members: 1, floatsPerMember: max(InferenceEngine.tileFloatsPerThread, 16 * columns),
                    activationFloats: columns * MatrixMultiply.broadcastKernelBatchMax)
                let product = MatrixProduct(weights: self, x: x.baseAddress!, xStride: columns, y: y.baseAddress!, yStride: rows)
                let tiles = activations == .int8 ? Int8Tiles([self]) : nil
                MatrixMultiply.run([product], batch: vectors.count, pool: WorkerPool(threadCount: 1), scratch: scratch, activations: activations, int8Tiles: tiles)
            }
        }
        return (0..<vectors.count).map { Array(y[($0 * rows)..<(($0 + 1) * rows)]) }
    }

    /// `dy·W` for each vector `dy` of `rows` floats (the gradient of `products` with respect to
    /// its inputs), computed as the backward pass computes it, on `threads` threads.
    public func transposedProducts(_ gradients: [[Float]], threads: Int) -> [[Float]] {
        precondition(gradients.allSatisfy { $0.count == rows }, "transposedProducts: vectors must have \(rows) values")
        guard !gradients.isEmpty else { return [] }
        let dy = gradients.flatMap { $0 }
        var dx = [Float](repeating: .nan, count: gradients.count * columns)
        dy.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { dx in
                let scratch = ScratchSpace(members: threads, floatsPerMember: MatrixMultiply.transposedTileRows * columns, activationFloats: 0)
                MatrixMultiply.runTransposed(
                    [TransposedTerm(weights: self, dy: dy.baseAddress!, dyStride: rows)], batch: gradients.count,
                    into: dx.baseAddress!, dxStride: columns, pool: WorkerPool(threadCount: threads), scratch: scratch)
            }
        }
        return (0..<gradients.count).map { Array(dx[($0 * columns)..<(($0 + 1) * columns)]) }
    }

    /// Row `row` as float32 (an embedding lookup).
    public func row(_ row: Int) -> [Float] {
        precondition((0..<rows).contains(row), "row \(row) outside 0..<\(rows)")
        return [Float](unsafeUninitializedCapacity: columns) { buffer, count in
            dequantize(rows: row..<(row + 1), into: buffer.baseAddress!)
            count = columns
        }
    }
}

/// Zeroed heap memory for repacked weights, 64-byte aligned, with slack so the 8-byte
/// block-header loads of the last block stay inside the allocation.
final class WeightStorage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer

    init(byteCount: Int) {
        base = .allocate(byteCount: byteCount + 64, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount + 64)
    }

    deinit { base.deallocate() }
}
