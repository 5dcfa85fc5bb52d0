/// 32 consecutive weights, decoded to float32 in four 8-lane registers.
struct Block32 {
    var w0, w1, w2, w3: SIMD8<Float>
}

/// Decodes 32-weight blocks of an encoding into registers. Each decoder performs the same
/// float32 operations as `TensorType.dequantize`, so both paths give identical weights.
protocol BlockDecoder {
    /// Block `block` of the row starting at `row`.
    static func decode(_ row: UnsafeRawPointer, block: Int) -> Block32
    /// Adds block `block`'s dot product with the 32 floats at `x` to `sum` (lane-wise) and
    /// `offset`; `blockSum` is the sum of those 32 floats. Quantized formats factor their
    /// scale and minimum out of the sum (d·Σq·x + m·Σx), which saves two operations per
    /// lane when one activation vector meets each decoded block.
    static func accumulateDot(_ row: UnsafeRawPointer, block: Int, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float)
}

extension BlockDecoder {
    @inline(__always)
    static func accumulateDot(_ row: UnsafeRawPointer, block: Int, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let v = decode(row, block: block)
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

/// The sum of the lanes as a tree of adds. The standard library's `sum()` adds one lane at
/// a time, which costs as much as several blocks in rows of few blocks.
@inline(__always)
func laneSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// Integer lanes as floats, written lane by lane so the compiler emits one vector
/// conversion inline (the standard library's generic SIMD conversion is sometimes left as
/// a call per block).
@inline(__always)
func floatLanes(_ q: SIMD8<Int32>) -> SIMD8<Float> {
    SIMD8<Float>(Float(q[0]), Float(q[1]), Float(q[2]), Float(q[3]), Float(q[4]), Float(q[5]), Float(q[6]), Float(q[7]))
}

/// The four 4-bit values of each 32-bit lane of a Q4 superblock half, as floats:
/// lane `k` of result `j` is bits `4j…4j+3` of lane `k` (after the half's shift).
@inline(__always)
func nibbleLanes(_ lanes: SIMD8<UInt32>) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
    let q = unsafeBitCast(lanes, to: SIMD8<Int32>.self)
    return (q & 0xF, (q &>> 4) & 0xF, (q &>> 8) & 0xF, (q &>> 12) & 0xF)
}

/// The 32-bit lanes of a Q4 superblock (at `lanes`) shifted so block `block`'s half is low.
@inline(__always)
func superblockLanes(_ lanes: UnsafeRawPointer, block: Int) -> SIMD8<UInt32> {
    lanes.loadUnaligned(as: SIMD8<UInt32>.self) &>> UInt32(16 * (block & 1))
}

/// The first four halves of a block widened to float (the scale, and the minimum where
/// the format has one). Loading them as one 8-byte vector keeps the conversion free of a
/// false dependency on whatever register a scalar half load would merge into.
@inline(__always)
func blockHeader(_ block: UnsafeRawPointer) -> SIMD4<Float> {
    SIMD4<Float>(block.loadUnaligned(as: SIMD4<Float16>.self))
}

enum F32Decoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block index: Int) -> Block32 {
        let block = row + 128 * index
        return Block32(
            w0: block.loadUnaligned(as: SIMD8<Float>.self), w1: block.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
            w2: block.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), w3: block.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
    }
}

enum F16Decoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block index: Int) -> Block32 {
        let block = row + 64 * index
        return Block32(w0: widenHalves(block), w1: widenHalves(block + 16), w2: widenHalves(block + 32), w3: widenHalves(block + 48))
    }
}

enum BF16Decoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block index: Int) -> Block32 {
        let block = row + 64 * index
        return Block32(
            w0: widenBrainHalves(block), w1: widenBrainHalves(block + 16), w2: widenBrainHalves(block + 32), w3: widenBrainHalves(block + 48))
    }
}

/// Q4_0 in the superblock lane layout of `LaneLayout`: weight = (q − 8)·d.
enum Q4_0LaneDecoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block: Int) -> Block32 {
        let superblock = row + LaneLayout.q4_0SuperblockBytes * (block >> 1)
        let d = SIMD8<Float>(repeating: blockHeader(superblock + 2 * (block & 1))[0])
        let (q0, q1, q2, q3) = nibbleLanes(superblockLanes(superblock + 4, block: block))
        return Block32(
            w0: (floatLanes(q0) - 8) * d, w1: (floatLanes(q1) - 8) * d,
            w2: (floatLanes(q2) - 8) * d, w3: (floatLanes(q3) - 8) * d)
    }

    @inline(__always)
    static func accumulateDot(_ row: UnsafeRawPointer, block: Int, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let superblock = row + LaneLayout.q4_0SuperblockBytes * (block >> 1)
        let d = blockHeader(superblock + 2 * (block & 1))[0]
        let (q0, q1, q2, q3) = nibbleLanes(superblockLanes(superblock + 4, block: block))
        sum.addProduct(SIMD8<Float>(repeating: d), quantDot(floatLanes(q0), floatLanes(q1), floatLanes(q2), floatLanes(q3), x))
        offset -= 8 * d * blockSum
    }
}

/// Q4_1 in the superblock lane layout of `LaneLayout`: weight = q·d + m.
enum Q4_1LaneDecoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block: Int) -> Block32 {
        let superblock = row + LaneLayout.q4_1SuperblockBytes * (block >> 1)
        let header = blockHeader(superblock + 4 * (block & 1))
        let d = SIMD8<Float>(repeating: header[0]), m = SIMD8<Float>(repeating: header[1])
        let (q0, q1, q2, q3) = nibbleLanes(superblockLanes(superblock + 8, block: block))
        return Block32(
            w0: floatLanes(q0) * d + m, w1: floatLanes(q1) * d + m,
            w2: floatLanes(q2) * d + m, w3: floatLanes(q3) * d + m)
    }

    @inline(__always)
    static func accumulateDot(_ row: UnsafeRawPointer, block: Int, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let superblock = row + LaneLayout.q4_1SuperblockBytes * (block >> 1)
        let header = blockHeader(superblock + 4 * (block & 1))
        let (q0, q1, q2, q3) = nibbleLanes(superblockLanes(superblock + 8, block: block))
        sum.addProduct(SIMD8<Float>(repeating: header[0]), quantDot(floatLanes(q0), floatLanes(q1), floatLanes(q2), floatLanes(q3), x))
        offset += header[1] * blockSum
    }
}

/// Q8_0 in the lane layout of `LaneLayout`: weight = q·d.
enum Q8_0LaneDecoder: BlockDecoder {
    @inline(__always) static func decode(_ row: UnsafeRawPointer, block: Int) -> Block32 {
        let p = row + 34 * block
        let d = SIMD8<Float>(repeating: blockHeader(p)[0])
        let lanes = p.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int32>.self)
        return Block32(
            w0: floatLanes((lanes &<< 24) &>> 24) * d,
            w1: floatLanes((lanes &<< 16) &>> 24) * d,
            w2: floatLanes((lanes &<< 8) &>> 24) * d,
            w3: floatLanes(lanes &>> 24) * d)
    }

    @inline(__always)
    static func accumulateDot(_ row: UnsafeRawPointer, block: Int, _ x: UnsafeRawPointer, blockSum: Float, _ sum: inout SIMD8<Float>, _ offset: inout Float) {
        let p = row + 34 * block
        let d = blockHeader(p)[0]
        let lanes = p.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int32>.self)
        let q = quantDot(floatLanes((lanes &<< 24) &>> 24), floatLanes((lanes &<< 16) &>> 24), floatLanes((lanes &<< 8) &>> 24), floatLanes(lanes &>> 24), x)
        sum.addProduct(SIMD8<Float>(repeating: d), q)
    }
}
