#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Activation vectors quantized to 8 bits per 32-value block and laid out to match one
/// weight encoding's `LaneLayout`, so that integer dot products pair each weight with its
/// activation without shuffles.
///
/// A block `x` becomes `q = round(x / d)` with `d = max|x| / 127` (so `q ∈ [−127, 127]`), and
/// `s = d · Σq`, which carries a weight block's constant term (Q4_1's minimum, Q4_0's −8).
/// - Q4_0 and Q4_1 (paired blocks, as the weights' superblocks): 80 bytes per pair — the
///   floats `d₀ s₀ d₁ s₁`, then 32 bytes whose 32-bit word `k` holds values `k`, `k+16` of the
///   first block and `k`, `k+16` of the second (the weights' low nibbles), then 32 bytes with
///   values `k+8`, `k+24` of each (the high nibbles). A missing second block is zeros.
/// - Q8_0: 36 bytes per block — the float `d`, then word `k` holding values `k`, `k+8`,
///   `k+16`, `k+24` (the weights' lane order).
enum Int8Activations {
    static let pairBytes = 80
    static let q8_0BlockBytes = 36

    /// Whether weights of `type` have int8 kernels: the encodings with a lane layout.
    static func applies(to type: TensorType) -> Bool { LaneLayout.applies(to: type) }

    /// Bytes of one quantized vector of `blocks` blocks, laid out for `type`.
    static func vectorBytes(_ type: TensorType, blocks: Int) -> Int {
        type == .q8_0 ? blocks * q8_0BlockBytes : (blocks + 1) / 2 * pairBytes
    }

    /// Quantizes `vectors` vectors of `blocks · 32` floats (`xStride` apart) into `target`,
    /// `vectorBytes(type, blocks:)` bytes per vector.
    static func quantize(_ type: TensorType, x: UnsafePointer<Float>, xStride: Int, vectors: Int, blocks: Int, into target: UnsafeMutableRawPointer) {
        precondition(applies(to: type), "\(type) has no int8 kernels")
        let bytes = vectorBytes(type, blocks: blocks)
        for vector in 0..<vectors {
            let source = UnsafeRawPointer(x + vector * xStride), out = target + vector * bytes
            if type == .q8_0 {
                for block in 0..<blocks {
                    let q = quantizeBlock(source + 128 * block)
                    let p = out + block * q8_0BlockBytes
                    p.storeBytes(of: q.scale, as: Float.self)
                    p.storeBytes(of: packBytes(q.values.0, q.values.1, q.values.2, q.values.3), toByteOffset: 4, as: SIMD8<Int32>.self)
                }
            } else {
                for pair in 0..<(blocks + 1) / 2 {
                    let first = quantizeBlock(source + 256 * pair)
                    let second = 2 * pair + 1 < blocks ? quantizeBlock(source + 256 * pair + 128) : QuantizedBlock.zero
                    let p = out + pair * pairBytes
                    p.storeBytes(of: SIMD4<Float>(first.scale, first.scaledSum, second.scale, second.scaledSum), as: SIMD4<Float>.self)
                    p.storeBytes(of: packBytes(first.values.0, first.values.2, second.values.0, second.values.2), toByteOffset: 16, as: SIMD8<Int32>.self)
                    p.storeBytes(of: packBytes(first.values.1, first.values.3, second.values.1, second.values.3), toByteOffset: 48, as: SIMD8<Int32>.self)
                }
            }
        }
    }

    /// Vectors per pass of `Int8BroadcastKernels`.
    static let broadcastLanes = MatrixMultiply.broadcastKernelBatchMax
    /// Bytes of one group of `quantizeTransposed`'s output: four values of every vector.
    static let transposedGroupBytes = broadcastLanes * 4
    /// Bytes per block of `quantizeTransposed`'s output: eight groups, then the scales and sums.
    static let transposedBlockBytes = 8 * transposedGroupBytes + 2 * broadcastLanes * 4

    /// Bytes of `quantizeTransposed`'s output for vectors of `blocks` blocks.
    static func transposedBytes(blocks: Int) -> Int { blocks * transposedBlockBytes }

    /// Quantizes up to 32 vectors (`xStride` floats apart) for `Int8BroadcastKernels`: per block,
    /// eight groups of 32 four-byte words (group `k`, word `v` = vector `v`'s values `k`, `k+8`,
    /// `k+16`, `k+24`: the weights' lane order), then 32 scales `d` and 32 sums `d · Σq`, all
    /// blocks in turn. Vectors from `vectors` to 32 are zeros.
    static func quantizeTransposed(x: UnsafePointer<Float>, xStride: Int, vectors: Int, blocks: Int, into target: UnsafeMutableRawPointer) {
        precondition(vectors <= broadcastLanes, "at most \(broadcastLanes) vectors per pass")
        let groupBytes = transposedGroupBytes
        target.initializeMemory(as: UInt8.self, repeating: 0, count: transposedBytes(blocks: blocks))
        for block in 0..<blocks {
            let out = target + block * transposedBlockBytes
            for vector in 0..<vectors {
                let q = quantizeBlock(UnsafeRawPointer(x + vector * xStride + block * 32))
                let words = packBytes(q.values.0, q.values.1, q.values.2, q.values.3)
                for k in 0..<8 { out.storeBytes(of: words[k], toByteOffset: k * groupBytes + 4 * vector, as: Int32.self) }
                out.storeBytes(of: q.scale, toByteOffset: 8 * groupBytes + 4 * vector, as: Float.self)
                out.storeBytes(of: q.scaledSum, toByteOffset: 8 * groupBytes + groupBytes + 4 * vector, as: Float.self)
            }
        }
    }

    /// One block's 8-bit values as four 8-lane vectors (values `8j…8j+7` in vector `j`),
    /// its scale `d` and `d · Σq`.
    struct QuantizedBlock {
        var values: (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>)
        var scale: Float
        var scaledSum: Float

        static let zero = QuantizedBlock(values: (.zero, .zero, .zero, .zero), scale: 0, scaledSum: 0)
    }

    @inline(__always)
    static func quantizeBlock(_ x: UnsafeRawPointer) -> QuantizedBlock {
        let v0 = x.loadUnaligned(as: SIMD8<Float>.self), v1 = x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let v2 = x.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), v3 = x.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        @inline(__always) func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
            unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        }
        let eight = _mm256_max_ps(_mm256_max_ps(magnitude(v0), magnitude(v1)), _mm256_max_ps(magnitude(v2), magnitude(v3)))
        let four = _mm_max_ps(eight.lowHalf, eight.highHalf), two = _mm_max_ps(four, _mm_movehl_ps(four, four))
        let largest = max(two[0], two[1])
        let scale = largest / 127
        let inverse = SIMD8<Float>(repeating: scale == 0 ? 0 : 1 / scale)
        @inline(__always) func round(_ v: SIMD8<Float>) -> SIMD8<Int32> {
            unsafeBitCast(_mm256_cvtps_epi32(v * inverse), to: SIMD8<Int32>.self)
        }
        let q = (round(v0), round(v1), round(v2), round(v3))
        let sum = ((q.0 &+ q.1) &+ (q.2 &+ q.3)).wrappedSum()
        return QuantizedBlock(values: q, scale: scale, scaledSum: scale * Float(sum))
    }

    /// Lane `k` of the result holds the low bytes of lane `k` of `a`, `b`, `c`, `d` in that order.
    @inline(__always)
    static func packBytes(_ a: SIMD8<Int32>, _ b: SIMD8<Int32>, _ c: SIMD8<Int32>, _ d: SIMD8<Int32>) -> SIMD8<Int32> {
        (a & 0xFF) | (b & 0xFF) &<< 8 | (c & 0xFF) &<< 16 | d &<< 24
    }
}
#endif
