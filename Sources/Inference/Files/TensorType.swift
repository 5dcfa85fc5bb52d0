/// Element encodings of weight tensors, numbered as in GGUF (`ggml_type`).
///
/// Quantized types store blocks of 32 weights; each block carries its own scale (and for
/// Q4_1 a minimum) as IEEE half precision. `dequantize` reproduces the format's definition
/// bit for bit: the same float32 operations, in the same order, as the reference
/// (`ggml` / `gguf-py`), so weights equal what a PyTorch reference loads.
public enum TensorType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    /// 32 weights: f16 scale `d`, 16 bytes of 4-bit values; weight = (q − 8)·d.
    case q4_0 = 2
    /// 32 weights: f16 scale `d`, f16 minimum `m`, 16 bytes of 4-bit values; weight = q·d + m.
    case q4_1 = 3
    /// 32 weights: f16 scale `d`, 32 signed bytes; weight = q·d.
    case q8_0 = 8
    case bf16 = 30

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q8_0: "Q8_0"
        case .bf16: "BF16"
        }
    }

    /// Weights per block (1 for plain float types).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    /// Bytes taken by `elements` values, or nil if `elements` is not a whole number of blocks
    /// or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// Decodes `count` values (a whole number of blocks) starting at `source` into `target`.
    public func dequantize(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutablePointer<Float>) {
        precondition(count % blockElements == 0, "dequantize: \(count) is not a whole number of \(self) blocks")
        switch self {
        case .f32:
            target.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { target[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<count {
                target[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .q4_0, .q4_1, .q8_0:
            for block in 0..<(count / 32) {
                dequantizeBlock(source + block * blockBytes, into: target + block * 32)
            }
        }
    }

    private func dequantizeBlock(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        switch self {
        case .q4_0:
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                out[j] = Float(Int32(byte & 0x0F) - 8) * d
                out[j + 16] = Float(Int32(byte >> 4) - 8) * d
            }
        case .q4_1:
            let m = halfToFloat(block, 2)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                out[j] = Float(byte & 0x0F) * d + m
                out[j + 16] = Float(byte >> 4) * d + m
            }
        case .q8_0:
            for j in 0..<32 {
                out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d
            }
        case .f32, .f16, .bf16:
            preconditionFailure("not a block type")
        }
    }
}

/// The IEEE half at `offset` bytes past `pointer`, widened to float (exact).
@inline(__always)
func halfToFloat(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}
