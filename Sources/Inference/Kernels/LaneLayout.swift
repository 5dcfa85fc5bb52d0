/// The engine's in-memory layout of quantized blocks, made once at load time.
///
/// GGUF stores a Q4 block's 32 four-bit values as 16 bytes, byte `j` holding values `j` and
/// `j + 16`, and a Q8_0 block's as 32 bytes in order. Widening those bytes into 8 lanes
/// takes four slow cross-lane instructions per block. The lane layout keeps every block
/// the same size, scale first, but orders the values so that one load feeds all 8 lanes
/// and shifts separate them:
/// - Q4: 16-bit word `k` holds values `k`, `k+8`, `k+16`, `k+24` in bits 0–3, 4–7, 8–11, 12–15;
/// - Q8_0: 32-bit word `k` holds values `k`, `k+8`, `k+16`, `k+24` in bytes 0–3.
/// Weights stay quantized (same bytes per block); only their order within a block changes.
enum LaneLayout {
    /// Whether `type` is stored in the lane layout.
    static func applies(to type: TensorType) -> Bool {
        type == .q4_0 || type == .q4_1 || type == .q8_0
    }

    /// Copies `blocks` blocks of `type` from `source` (GGUF order) to `target` (lane order).
    static func repack(_ type: TensorType, blocks: Int, from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer) {
        precondition(applies(to: type), "\(type) has no lane layout")
        let size = type.blockBytes
        let headerBytes = type == .q4_1 ? 4 : 2
        for block in 0..<blocks {
            let from = source + block * size, to = target + block * size
            to.copyMemory(from: from, byteCount: headerBytes)
            let quants = from + headerBytes, lanes = to + headerBytes
            for k in 0..<8 {
                if type == .q8_0 {
                    for part in 0..<4 { lanes.storeBytes(of: value(type, quants, k + 8 * part), toByteOffset: 4 * k + part, as: UInt8.self) }
                } else {
                    var word: UInt16 = 0
                    for part in 0..<4 { word |= UInt16(value(type, quants, k + 8 * part)) << (4 * part) }
                    lanes.storeBytes(of: word.littleEndian, toByteOffset: 2 * k, as: UInt16.self)
                }
            }
        }
    }

    /// Raw value `j` (0–31) of a GGUF-ordered block's quant bytes.
    @inline(__always)
    private static func value(_ type: TensorType, _ quants: UnsafeRawPointer, _ j: Int) -> UInt8 {
        if type == .q8_0 { return quants.load(fromByteOffset: j, as: UInt8.self) }
        let byte = quants.load(fromByteOffset: j % 16, as: UInt8.self)
        return j < 16 ? byte & 0x0F : byte >> 4
    }
}
