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
    /// `v < batch`, with `x` from `Int8Activations.quantizeTransposed`; `prefetch` advances
    /// once per row and block.
    static func multiply(
        _ type: TensorType, tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int, prefetch: inout PrefetchCursor
    ) {
        if type == .q8_0 {
            multiplySigned(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, prefetch: &prefetch)
        } else {
            multiplyUnsigned(tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, prefetch: &prefetch)
        }
    }

    static let groupBytes = Int8Activations.transposedGroupBytes
    static let activationBlockBytes = Int8Activations.transposedBlockBytes

    /// Q4: a block's eight products per register add up in 16 bits, widened once.
    @inline(never)
    static func multiplyUnsigned(
        tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
        prefetch: inout PrefetchCursor
    ) {
        multiplyRows(UnsignedBlockSums.self, tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, prefetch: &prefetch)
    }

    /// Q8_0: each product moves the weight's sign onto the activation and is widened at once.
    @inline(never)
    static func multiplySigned(
        tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
        prefetch: inout PrefetchCursor
    ) {
        multiplyRows(SignedBlockSums.self, tile: tile, rows: rows, blocks: blocks, x: x, batch: batch, y: y, yStride: yStride, prefetch: &prefetch)
    }

    /// Rows whose 32 results are gathered before they are written out per vector.
    static let rowsPerFlush = 16

    /// The loop both encodings share: per row and block, `Sums.of` gives the four registers'
    /// 32-bit integer sums (vectors 0–7, 8–15, 16–23, 24–31), which are scaled and accumulated.
    /// Generic rather than taking a closure so that the block sums inline into the loop (a call
    /// per block would spill the float accumulators, which every call may clobber). Results
    /// of `rowsPerFlush` rows are kept together and written one vector at a time, a run of
    /// consecutive floats each, rather than 32 scattered floats per row.
    @inline(__always)
    private static func multiplyRows<Sums: Int8BlockSums>(
        _: Sums.Type, tile: UnsafeRawPointer, rows: Int, blocks: Int, x: UnsafeRawPointer, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int,
        prefetch: inout PrefetchCursor
    ) {
        let lanes = Int8Activations.broadcastLanes
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: rowsPerFlush * lanes / 8) { results in
            let gathered = UnsafeMutableRawPointer(results.baseAddress!).assumingMemoryBound(to: Float.self)
            for first in stride(from: 0, to: rows, by: rowsPerFlush) {
                let count = min(rowsPerFlush, rows - first)
                for index in 0..<count {
                    let w = tile + (first + index) * blocks * decodedBlockBytes
                    var f0 = SIMD8<Float>(), f1 = SIMD8<Float>(), f2 = SIMD8<Float>(), f3 = SIMD8<Float>()
                    for block in 0..<blocks {
                        prefetch.advance()
                        let wb = w + block * decodedBlockBytes, xb = x + block * activationBlockBytes
                        let (i0, i1, i2, i3) = Sums.of(wb, xb)
                        let scales = wb.loadUnaligned(fromByteOffset: 32, as: SIMD2<Float>.self)
                        accumulate(&f0, i0, scales, xb, 0, constant: Sums.hasConstant)
                        accumulate(&f1, i1, scales, xb, 1, constant: Sums.hasConstant)
                        accumulate(&f2, i2, scales, xb, 2, constant: Sums.hasConstant)
                        accumulate(&f3, i3, scales, xb, 3, constant: Sums.hasConstant)
                    }
                    results[4 * index] = f0
                    results[4 * index + 1] = f1
                    results[4 * index + 2] = f2
                    results[4 * index + 3] = f3
                }
                for vector in 0..<batch {
                    let target = y + vector * yStride + first
                    for index in 0..<count { target[index] = gathered[index * lanes + vector] }
                }
            }
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
}

/// One decoded weight block times one block of 32 transposed activation vectors: the four
/// registers' 32-bit integer sums (vectors 0–7, 8–15, 16–23, 24–31).
protocol Int8BlockSums {
    /// Whether the encoding's `m` term (`m_w · s_x`) is added.
    static var hasConstant: Bool { get }
    static func of(_ wb: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> (SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>)
}

/// Q4 (unsigned nibbles): eight `vpmaddubsw` per register add up in 16 bits, widened once.
enum UnsignedBlockSums: Int8BlockSums {
    static var hasConstant: Bool { true }

    @inline(__always)
    static func of(_ wb: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> (SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>) {
        let groupBytes = Int8BroadcastKernels.groupBytes
        var i0 = SIMD4<Int64>(), i1 = SIMD4<Int64>(), i2 = SIMD4<Int64>(), i3 = SIMD4<Int64>()
        for k in 0..<8 {
            let weights = _mm256_set1_epi32(wb.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
            let xk = xb + k * groupBytes
            i0 = _mm256_add_epi16(i0, _mm256_maddubs_epi16(weights, xk.loadUnaligned(as: SIMD4<Int64>.self)))
            i1 = _mm256_add_epi16(i1, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int64>.self)))
            i2 = _mm256_add_epi16(i2, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 64, as: SIMD4<Int64>.self)))
            i3 = _mm256_add_epi16(i3, _mm256_maddubs_epi16(weights, xk.loadUnaligned(fromByteOffset: 96, as: SIMD4<Int64>.self)))
        }
        let ones = _mm256_set1_epi16(1)
        return (_mm256_madd_epi16(i0, ones), _mm256_madd_epi16(i1, ones), _mm256_madd_epi16(i2, ones), _mm256_madd_epi16(i3, ones))
    }
}

/// Q8_0 (signed bytes): each product moves the weight's sign onto the activation and is
/// widened at once.
enum SignedBlockSums: Int8BlockSums {
    static var hasConstant: Bool { false }

    @inline(__always)
    static func of(_ wb: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> (SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>, SIMD4<Int64>) {
        let groupBytes = Int8BroadcastKernels.groupBytes
        let ones = _mm256_set1_epi16(1)
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
#endif
