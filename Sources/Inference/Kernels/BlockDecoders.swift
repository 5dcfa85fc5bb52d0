/// 32 consecutive weights, decoded to float32 in four 8-lane registers.
struct Block32 {
    var w0, w1, w2, w3: SIMD8<Float>
}

/// Decodes one 32-weight block of an encoding into registers. Each decoder performs the
/// same float32 operations as `TensorType.dequantize`, so both paths give identical weights.
protocol BlockDecoder {
    /// Bytes occupied by 32 weights.
    static var blockBytes: Int { get }
    static func decode(_ block: UnsafeRawPointer) -> Block32
    /// Adds the block's dot product with the 32 floats at `x` to `sum` (lane-wise) and
    /// `offset`; `blockSum` is the sum of those 32 floats. Quantized formats factor their
    /// scale and minimum out of the sum (d·Σq·x + m·Σx), which saves two operations per
    /// lane when one activation vector meets each decoded block.
    static func accumulateDot(_ block: UnsafeRawPointer, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float)
}

extension BlockDecoder {
    @inline(__always)
    static func accumulateDot(_ block: UnsafeRawPointer, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let v = decode(block)
        sum.addProduct(v.w0, x.loadUnaligned(as: SIMD8<Float>.self))
        sum.addProduct(v.w1, x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        sum.addProduct(v.w2, x.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
        sum.addProduct(v.w3, x.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
    }
}

/// Σ q·x over a block whose values are in four 8-lane float vectors.
@inline(__always)
func quantDot(_ q0: SIMD8<Float>, _ q1: SIMD8<Float>, _ q2: SIMD8<Float>, _ q3: SIMD8<Float>, _ x: UnsafeRawPointer) -> SIMD8<Float> {
    var s = q0 * x.loadUnaligned(as: SIMD8<Float>.self)
    var t = q1 * x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
    s.addProduct(q2, x.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
    t.addProduct(q3, x.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
    return s + t
}

/// The exact float value of integer lanes in 0..<2²³: the integer is placed in the
/// mantissa of 2²³ and 2²³ subtracted. Two plain vector operations that always inline,
/// unlike the standard library's generic integer-to-float conversion.
@inline(__always)
func floatLanes(_ q: SIMD8<Int32>) -> SIMD8<Float> {
    unsafeBitCast(q | 0x4B00_0000, to: SIMD8<Float>.self) - 8_388_608
}

/// The exact float value of signed byte lanes (−128...127).
@inline(__always)
func floatLanes(signedBytes q: SIMD8<Int32>) -> SIMD8<Float> {
    unsafeBitCast((q &+ 128) | 0x4B00_0000, to: SIMD8<Float>.self) - 8_388_736
}

/// Zero-extends eight 16-bit lanes read from `pointer` to 32 bits.
@inline(__always)
func wordLanes(_ pointer: UnsafeRawPointer) -> SIMD8<Int32> {
    let words = pointer.loadUnaligned(as: SIMD8<UInt16>.self)
    return SIMD8<Int32>(
        Int32(words[0]), Int32(words[1]), Int32(words[2]), Int32(words[3]),
        Int32(words[4]), Int32(words[5]), Int32(words[6]), Int32(words[7]))
}

/// The first four halves of a block widened to float (the scale, and the minimum where
/// the format has one). Loading them as one 8-byte vector keeps the conversion free of a
/// false dependency on whatever register a scalar half load would merge into.
@inline(__always)
func blockHeader(_ block: UnsafeRawPointer) -> SIMD4<Float> {
    SIMD4<Float>(block.loadUnaligned(as: SIMD4<Float16>.self))
}

enum F32Decoder: BlockDecoder {
    static var blockBytes: Int { 128 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        Block32(
            w0: block.loadUnaligned(as: SIMD8<Float>.self), w1: block.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
            w2: block.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), w3: block.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
    }
}

enum F16Decoder: BlockDecoder {
    static var blockBytes: Int { 64 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        @inline(__always) func widen(_ offset: Int) -> SIMD8<Float> {
            SIMD8<Float>(block.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self))
        }
        return Block32(w0: widen(0), w1: widen(16), w2: widen(32), w3: widen(48))
    }
}

enum BF16Decoder: BlockDecoder {
    static var blockBytes: Int { 64 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        @inline(__always) func widen(_ offset: Int) -> SIMD8<Float> {
            let bits = SIMD8<UInt32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self)) &<< 16
            return unsafeBitCast(bits, to: SIMD8<Float>.self)
        }
        return Block32(w0: widen(0), w1: widen(16), w2: widen(32), w3: widen(48))
    }
}

/// Q4_0 in the lane layout of `LaneLayout`: weight = (q − 8)·d.
enum Q4_0LaneDecoder: BlockDecoder {
    static var blockBytes: Int { 18 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let d = SIMD8<Float>(repeating: blockHeader(block)[0])
        let lanes = wordLanes(block + 2)
        return Block32(
            w0: (floatLanes(lanes & 0xF) - 8) * d,
            w1: (floatLanes((lanes &>> 4) & 0xF) - 8) * d,
            w2: (floatLanes((lanes &>> 8) & 0xF) - 8) * d,
            w3: (floatLanes(lanes &>> 12) - 8) * d)
    }

    @inline(__always)
    static func accumulateDot(_ block: UnsafeRawPointer, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let d = blockHeader(block)[0]
        let lanes = wordLanes(block + 2)
        let q = quantDot(floatLanes(lanes & 0xF), floatLanes((lanes &>> 4) & 0xF), floatLanes((lanes &>> 8) & 0xF), floatLanes(lanes &>> 12), x)
        sum.addProduct(SIMD8<Float>(repeating: d), q)
        offset -= 8 * d * blockSum
    }
}

/// Q4_1 in the lane layout of `LaneLayout`: weight = q·d + m.
enum Q4_1LaneDecoder: BlockDecoder {
    static var blockBytes: Int { 20 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let header = blockHeader(block)
        let d = SIMD8<Float>(repeating: header[0])
        let m = SIMD8<Float>(repeating: header[1])
        let lanes = wordLanes(block + 4)
        return Block32(
            w0: floatLanes(lanes & 0xF) * d + m,
            w1: floatLanes((lanes &>> 4) & 0xF) * d + m,
            w2: floatLanes((lanes &>> 8) & 0xF) * d + m,
            w3: floatLanes(lanes &>> 12) * d + m)
    }

    @inline(__always)
    static func accumulateDot(_ block: UnsafeRawPointer, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let header = blockHeader(block)
        let lanes = wordLanes(block + 4)
        let q = quantDot(floatLanes(lanes & 0xF), floatLanes((lanes &>> 4) & 0xF), floatLanes((lanes &>> 8) & 0xF), floatLanes(lanes &>> 12), x)
        sum.addProduct(SIMD8<Float>(repeating: header[0]), q)
        offset += header[1] * blockSum
    }
}

/// Q8_0 in the lane layout of `LaneLayout`: weight = q·d.
enum Q8_0LaneDecoder: BlockDecoder {
    static var blockBytes: Int { 34 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let d = SIMD8<Float>(repeating: blockHeader(block)[0])
        let lanes = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int32>.self)
        return Block32(
            w0: floatLanes(signedBytes: (lanes &<< 24) &>> 24) * d,
            w1: floatLanes(signedBytes: (lanes &<< 16) &>> 24) * d,
            w2: floatLanes(signedBytes: (lanes &<< 8) &>> 24) * d,
            w3: floatLanes(signedBytes: lanes &>> 24) * d)
    }

    @inline(__always)
    static func accumulateDot(_ block: UnsafeRawPointer, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let d = blockHeader(block)[0]
        let lanes = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int32>.self)
        let q = quantDot(
            floatLanes(signedBytes: (lanes &<< 24) &>> 24), floatLanes(signedBytes: (lanes &<< 16) &>> 24),
            floatLanes(signedBytes: (lanes &<< 8) &>> 24), floatLanes(signedBytes: lanes &>> 24), x)
        sum.addProduct(SIMD8<Float>(repeating: d), q)
    }
}
