/// The engine's in-memory layout of quantized blocks, made once at load time.
///
/// GGUF stores a Q4 block's 32 four-bit values as 16 bytes, byte `j` holding values `j` and
/// `j + 16`, and a Q8_0 block's as 32 bytes in order. Widening bytes into 32-bit SIMD lanes
/// takes slow cross-lane instructions. The lane layout orders values so that one 32-byte
/// load fills all 8 lanes and shifts and masks separate them:
/// - Q8_0 (34 bytes per block, scale first): 32-bit word `k` holds values `k`, `k+8`,
///   `k+16`, `k+24` in bytes 0–3.
/// - Q4_0, Q4_1: blocks are paired into superblocks (a row with an odd number of blocks
///   ends with a half-empty one): the two blocks' scales (Q4_0: `d₀ d₁`, 4 bytes; Q4_1:
///   `d₀ m₀ d₁ m₁`, 8 bytes), then eight 32-bit words; word `k` holds the first block's
///   values `k`, `k+8`, `k+16`, `k+24` in bits 0–3, 4–7, 8–11, 12–15 and the second
///   block's in bits 16–31 the same way.
/// Weights stay quantized: the layout takes the same bytes as GGUF (plus one empty block
/// for odd rows).
enum LaneLayout {
    static let q4_0SuperblockBytes = 36
    static let q4_1SuperblockBytes = 40

    /// Whether `type` is stored in the lane layout.
    static func applies(to type: TensorType) -> Bool {
        type == .q4_0 || type == .q4_1 || type == .q8_0
    }

    /// Bytes of one row of `blocks` blocks of `type` in the lane layout.
    static func rowBytes(_ type: TensorType, blocks: Int) -> Int {
        switch type {
        case .q4_0: (blocks + 1) / 2 * q4_0SuperblockBytes
        case .q4_1: (blocks + 1) / 2 * q4_1SuperblockBytes
        default: blocks * type.blockBytes
        }
    }

    /// Copies `rows` rows of `blocks` blocks of `type` from `source` (GGUF order) to
    /// `target` (lane layout, `rowBytes(type, blocks:)` per row, zero-initialised).
    static func repack(_ type: TensorType, rows: Int, blocks: Int, from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer) {
        precondition(applies(to: type), "\(type) has no lane layout")
        let sourceRowBytes = blocks * type.blockBytes, targetRowBytes = rowBytes(type, blocks: blocks)
        for row in 0..<rows {
            let from = source + row * sourceRowBytes, to = target + row * targetRowBytes
            for block in 0..<blocks {
                let original = from + block * type.blockBytes
                switch type {
                case .q8_0:
                    let out = to + block * 34
                    out.copyMemory(from: original, byteCount: 2)
                    for k in 0..<8 {
                        for part in 0..<4 {
                            (out + 2).storeBytes(of: value(type, original + 2, k + 8 * part), toByteOffset: 4 * k + part, as: UInt8.self)
                        }
                    }
                default:
                    let headerBytes = type == .q4_1 ? 4 : 2
                    let superblock = to + (block / 2) * (type == .q4_1 ? q4_1SuperblockBytes : q4_0SuperblockBytes)
                    let half = block % 2
                    (superblock + half * headerBytes).copyMemory(from: original, byteCount: headerBytes)
                    let lanes = superblock + 2 * headerBytes
                    for k in 0..<8 {
                        var bits: UInt32 = 0
                        for part in 0..<4 { bits |= UInt32(value(type, original + headerBytes, k + 8 * part)) << (4 * part) }
                        let word = lanes.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self) | bits << (16 * half)
                        lanes.storeBytes(of: word, toByteOffset: 4 * k, as: UInt32.self)
                    }
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
