#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Dot products of quantized weight rows (`LaneLayout`) with `Int8Activations`, multiplying
/// 8-bit values with `vpmaddubsw` (unsigned weight × signed activation, adjacent pairs summed
/// into 16 bits) and `vpmaddwd` (pairs summed into 32 bits), then scaling each block's
/// integer sum by the weight's and the activation's scales in float32.
///
/// No 16-bit sum can saturate: a Q4 lane (low and high nibble pairs added) holds at most
/// 4 · 15 · 127 and a Q8_0 pair 2 · 128 · 127, both below 2¹⁵.
enum Int8RowKernels {
    /// `y[v * yStride + r] = Σ_c W[r, c] · x̂[v, c]` for `r` in `rows`, `v` in `0..<vectors`,
    /// where `x̂` are the quantized activations (`vectorBytes` apart).
    static func multiply(
        _ type: TensorType, weights: UnsafeRawPointer, rowBytes: Int, blocks: Int, rows: Range<Int>,
        activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        switch type {
        case .q4_1: multiplyQ4_1(weights: weights, rowBytes: rowBytes, pairs: (blocks + 1) / 2, rows: rows, activations: activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
        case .q4_0: multiplyQ4_0(weights: weights, rowBytes: rowBytes, pairs: (blocks + 1) / 2, rows: rows, activations: activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
        case .q8_0: multiplyQ8_0(weights: weights, rowBytes: rowBytes, blocks: blocks, rows: rows, activations: activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
        default: preconditionFailure("\(type) has no int8 kernels")
        }
    }

    /// Q4_1: weight = q·d + m.
    @inline(never)
    static func multiplyQ4_1(
        weights: UnsafeRawPointer, rowBytes: Int, pairs: Int, rows: Range<Int>,
        activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        multiplyQ4(minimum: true, weights: weights, rowBytes: rowBytes, pairs: pairs, rows: rows, activations: activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
    }

    /// Q4_0: weight = (q − 8)·d.
    @inline(never)
    static func multiplyQ4_0(
        weights: UnsafeRawPointer, rowBytes: Int, pairs: Int, rows: Range<Int>,
        activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        multiplyQ4(minimum: false, weights: weights, rowBytes: rowBytes, pairs: pairs, rows: rows, activations: activations, vectorBytes: vectorBytes, vectors: vectors, y: y, yStride: yStride)
    }

    /// Q4_1 (`minimum`) or Q4_0, two blocks per step; inlined so `minimum` is a constant.
    @inline(__always)
    static func multiplyQ4(
        minimum: Bool, weights: UnsafeRawPointer, rowBytes: Int, pairs: Int, rows: Range<Int>,
        activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        let lowNibbles = _mm256_set1_epi8(0x0F)
        let firstBlock = _mm256_set1_epi32(0x0000_0001), secondBlock = _mm256_set1_epi32(0x0001_0000)
        let superblockBytes = minimum ? LaneLayout.q4_1SuperblockBytes : LaneLayout.q4_0SuperblockBytes
        let headerBytes = minimum ? 8 : 4
        for row in rows {
            let w = weights + row * rowBytes
            for vector in 0..<vectors {
                let x = activations + vector * vectorBytes
                var first = SIMD8<Float>(), second = SIMD8<Float>(), constant = SIMD4<Float>()
                for pair in 0..<pairs {
                    let superblock = w + pair * superblockBytes, a = x + pair * Int8Activations.pairBytes
                    let header = blockHeader(superblock)
                    // (d₀, m₀, d₁, m₁) for Q4_1; Q4_0's header is (d₀, d₁) and its constant is −8·d.
                    let weightScales = minimum ? header : SIMD4<Float>(header[0], -8 * header[0], header[1], -8 * header[1])
                    let scales = weightScales * a.loadUnaligned(as: SIMD4<Float>.self)
                    let bytes = superblock.loadUnaligned(fromByteOffset: headerBytes, as: SIMD4<Int64>.self)
                    let low = _mm256_and_si256(bytes, lowNibbles)
                    let high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), lowNibbles)
                    let products = _mm256_add_epi16(
                        _mm256_maddubs_epi16(low, a.loadUnaligned(fromByteOffset: 16, as: SIMD4<Int64>.self)),
                        _mm256_maddubs_epi16(high, a.loadUnaligned(fromByteOffset: 48, as: SIMD4<Int64>.self)))
                    // 16-bit lanes alternate between the two blocks; each is summed on its own.
                    first.addProduct(_mm256_cvtepi32_ps(_mm256_madd_epi16(products, firstBlock)), SIMD8<Float>(repeating: scales[0]))
                    second.addProduct(_mm256_cvtepi32_ps(_mm256_madd_epi16(products, secondBlock)), SIMD8<Float>(repeating: scales[2]))
                    constant += scales
                }
                y[vector * yStride + row] = laneSum(first + second) + (constant[1] + constant[3])
            }
        }
    }

    /// Q8_0 (weight = q·d): signed × signed through `vpmaddubsw` by moving each weight's
    /// sign onto its activation.
    @inline(never)
    static func multiplyQ8_0(
        weights: UnsafeRawPointer, rowBytes: Int, blocks: Int, rows: Range<Int>,
        activations: UnsafeRawPointer, vectorBytes: Int, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        let ones = _mm256_set1_epi16(1)
        for row in rows {
            let w = weights + row * rowBytes
            for vector in 0..<vectors {
                let x = activations + vector * vectorBytes
                var even = SIMD8<Float>(), odd = SIMD8<Float>()
                @inline(__always) func blockDot(_ block: Int) -> SIMD8<Float> {
                    let p = w + block * 34, a = x + block * Int8Activations.q8_0BlockBytes
                    let values = p.loadUnaligned(fromByteOffset: 2, as: SIMD4<Int64>.self)
                    let signed = _mm256_sign_epi8(a.loadUnaligned(fromByteOffset: 4, as: SIMD4<Int64>.self), values)
                    let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(values), signed), ones)
                    return _mm256_cvtepi32_ps(sums) * SIMD8<Float>(repeating: blockHeader(p)[0] * a.loadUnaligned(as: Float.self))
                }
                var block = 0
                while block + 1 < blocks {
                    even += blockDot(block)
                    odd += blockDot(block + 1)
                    block += 2
                }
                if block < blocks { even += blockDot(block) }
                y[vector * yStride + row] = laneSum(even + odd)
            }
        }
    }
}
#endif
