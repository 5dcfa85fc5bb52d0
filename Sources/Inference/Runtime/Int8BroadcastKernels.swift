#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Products of quantized weight rows with 9 to 32 activation vectors quantized to 8 bits
/// (`Int8Activations.quantizeTransposed`): each four weights of a row are broadcast and
/// multiplied with `vpmaddubsw` against four registers holding those four columns of all 32
/// vectors — 128 multiply-adds in four instructions where float32 needs sixteen FMAs.
///
/// A tile of rows is first decoded into 8-bit weights (`decodeTile`): per block 32 bytes in
/// the lane order (byte `4k + j` = value `k + 8j`), then the scale `d` and the constant `m`
/// as floats (Q4_1: its minimum; Q4_0: −8·d; Q8_0: 0), 40 bytes in all. Q4 values are
/// unsigned nibbles, so a block's eight `vpmaddubsw` results add up in 16 bits without
/// overflow (8 · 2 · 15 · 127 < 2¹⁵) and are widened once per block; Q8_0 values are
/// signed, so each product moves the weight's sign onto the activation and is widened at once.
enum Int8BroadcastKernels {
    static let decodedBlockBytes = 40

    /// Decodes rows `rows` of `weights` into `target`, `decodedBlockBytes` per block.
    static func decodeTile(_ weights: WeightMatrix, rows: Range<Int>, into target: UnsafeMutableRawPointer) {
        let blocks = weights.columns / 32
        var out = target
        for row in rows {
            let w = weights.base + row * weights.rowBytes
            for block in 0..<blocks {
                switch weights.type {
                case .q8_0:
                    let p = w + 34 * block
                    out.copyMemory(from: p + 2, byteCount: 32)
                    out.storeBytes(of: SIMD2<Float>(blockHeader(p)[0], 0), toByteOffset: 32, as: SIMD2<Float>.self)
                case .q4_1, .q4_0:
                    let minimum = weights.type == .q4_1
                    let superblock = w + (block >> 1) * (minimum ? LaneLayout.q4_1SuperblockBytes : LaneLayout.q4_0SuperblockBytes)
                    let header = blockHeader(superblock + (block & 1) * (minimum ? 4 : 2))
                    let (q0, q1, q2, q3) = nibbleLanes(superblockLanes(superblock + (minimum ? 8 : 4), block: block))
                    out.storeBytes(of: q0 | q1 &<< 8 | q2 &<< 16 | q3 &<< 24, as: SIMD8<Int32>.self)
                    let constant = minimum ? header[1] : -8 * header[0]
                    out.storeBytes(of: SIMD2<Float>(header[0], constant), toByteOffset: 32, as: SIMD2<Float>.self)
                default:
                    preconditionFailure("\(weights.type) has no int8 kernels")
                }
                out += decodedBlockBytes
            }
        }
    }

    /// `y[v · yStride + r] = Σ_c W[r, c] · x̂[v, c]` for the decoded tile's `rows` rows and
    /// `v < batch`, with `x` from `Int8Activations.quantizeTransposed`.
    static func multiply(
        _ type: TensorType, tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        if type == .q8_0 {
            multiplySigned(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride)
        } else {
            multiplyUnsigned(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride)
        }
    }

    static let groupBytes = Int8Activations.transposedGroupBytes
    static let activationBlockBytes = Int8Activations.transposedBlockBytes

    /// Q4: a block's eight products per register add up in 16 bits, widened once.
    @inline(never)
    static func multiplyUnsigned(tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int) {
        let ones = _mm256_set1_epi16(1)
        multiplyRows(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, constant: true) { wb, xb in
            var i0 = SIMD4<Int64>(), i1 = SIMD4<Int64>(), i2 = SIMD4<Int64>(), i3 = SIMD4<Int64>()
            for k in 0..<8 {
                let weights = _mm256_set1_epi32(wb.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
                let xk = xb + k * groupBytes
                i0 = _mm256_add_epi16(i0, _mm256_maddubs_epi16(weights, xk.loadUnaligned(as: SIMD4<Int64>.self)))
                i1 = _mm256_add_epi16(i1, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int64>.self)))
                i2 = _mm256_add_epi16(i2, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 64, as: SIMD4<Int64>.self)))
                i3 = _mm256_add_epi16(i3, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 96, as: SIMD4<Int64>.self)))
            }
            return (_mm256_madd_epi16(i0, ones), _mm256_madd_epi16(i1, ones), _mm256_madd_epi16(i2, ones), _mm256_madd_epi16(i3, ones))
        }
    }

    /// Q8_0: each product moves the weight's sign onto the activation and is widened at once.
    @inline(never)
    static func multiplySigned(tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int) {
        let ones = _mm256_set1_epi16(1)
        multiplyRows(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, constant: false) { wb, xb in
            var i0 = SIMD4<Int64>(), i1 = SIMD4<Int64>(), i2 = SIMD4<Int64>(), i3 = SIMD4<Int64>()
            for k in 0..<8 {
                let weights = _mm256_set1_epi32(wb.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
                let magnitudes = _mm256_abs_epi8(weights)
                let xk = xb + k * groupBytes
                @inline(__always) func dot(_ offset: Int) -> SIMD4<Int64> {
                    let signed = _mm256_sign_epi8(xk.loadUnaligned(fromByteOffset: offset, as: SIMD4<Int64>.self), weights)
                    return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, signed), ones)
                }
                i0 = _mm256_add_epi32(i0, dot(0))
                i1 = _mm256_add_epi32(i1, dot(32))
                i2 = _mm256_add_epi32(i2, dot(64))
                i3 = _mm256_add_epi32(i3, dot(96))
            }
            return (i0, i1, i2, i3)
        }
    }

    /// The loop both encodings share: per row and block, `blockSums` gives the four registers'
    /// 32-bit integer sums (vectors 0–7, 8–15, 16–23, 24–31), which are scaled and accumulated.
    @inline(__always)
    private static func multiplyRows(
        tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
        constant: Bool, blockSums: (UnsafeRawPointer, UnsafeRawPointer) -> (SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>)
    ) {
        for row in 0..<rows {
            let w = tile + row * blocks * decodedBlockBytes
            var f0 = SIMD8<Float>(), f1 = SIMD8<Float>(), f2 = SIMD8<Float>(), f3 = SIMD8<Float>()
            for block in 0..<blocks {
                let wb = w + block * decodedBlockBytes, xb = x + block * activationBlockBytes
                let (i0, i1, i2, i3) = blockSums(wb, xb)
                let scales = wb.loadUnaligned(fromByteOffset: 32, as: SIMD2<Float>.self)
                accumulate(&f0, i0, scales, xb, 0, constant: constant)
                accumulate(&f1, i1, scales, xb, 1, constant: constant)
                accumulate(&f2, i2, scales, xb, 2, constant: constant)
                accumulate(&f3, i3, scales, xb, 3, constant: constant)
            }
            store(f0, f1, f2, f3, batch: batch, into: y + row, yStride: yStride)
        }
    }

    /// Adds one block's integer sums of vectors `8·register …` scaled: `d_w·d_x·Σ`, plus
    /// `m_w·s_x` when the encoding has a `constant` term.
    @inline(__always)
    private static func accumulate(_ sum: inout SIMD8<Float>, _ integers: SIMD4<Int64>, _ scales: SIMD2<Float>, _ xb: UnsafeRawPointer, _ register: Int, constant: Bool) {
        let d = xb.loadUnaligned(fromByteOffset: 8 * groupBytes + 32 * register, as: SIMD8<Float>.self)
        sum.addProduct(_mm256_cvtepi32_ps(integers), d * scales[0])
        if constant {
            let s = xb.loadUnaligned(fromByteOffset: 9 * groupBytes + 32 * register, as: SIMD8<Float>.self)
            sum.addProduct(s, SIMD8<Float>(repeating: scales[1]))
        }
    }

    /// Writes lanes `0..<batch` of the 32 lanes `f0 f1 f2 f3` to `y[v · yStride]`.
    @inline(__always)
    private static func store(_ f0: SIMD8<Float>, _ f1: SIMD8<Float>, _ f2: SIMD8<Float>, _ f3: SIMD8<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, yStride: Int) {
        for vector in 0..<batch {
            let lanes = vector < 16 ? (vector < 8 ? f0 : f1) : (vector < 24 ? f2 : f3)
            y[vector * yStride] = lanes[vector & 7]
        }
    }
}
#endif
