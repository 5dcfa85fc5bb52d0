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
        let lanes = SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt16>.self))
        return Block32(
            w0: SIMD8<Float>((lanes & 0xF) &- 8) * d,
            w1: SIMD8<Float>(((lanes &>> 4) & 0xF) &- 8) * d,
            w2: SIMD8<Float>(((lanes &>> 8) & 0xF) &- 8) * d,
            w3: SIMD8<Float>((lanes &>> 12) &- 8) * d)
    }
}

/// Q4_1 in the lane layout of `LaneLayout`: weight = q·d + m.
enum Q4_1LaneDecoder: BlockDecoder {
    static var blockBytes: Int { 20 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let header = blockHeader(block)
        let d = SIMD8<Float>(repeating: header[0])
        let m = SIMD8<Float>(repeating: header[1])
        let lanes = SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self))
        return Block32(
            w0: SIMD8<Float>(lanes & 0xF) * d + m,
            w1: SIMD8<Float>((lanes &>> 4) & 0xF) * d + m,
            w2: SIMD8<Float>((lanes &>> 8) & 0xF) * d + m,
            w3: SIMD8<Float>(lanes &>> 12) * d + m)
    }
}

/// Q8_0 in the lane layout of `LaneLayout`: weight = q·d.
enum Q8_0LaneDecoder: BlockDecoder {
    static var blockBytes: Int { 34 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let d = SIMD8<Float>(repeating: blockHeader(block)[0])
        let lanes = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int32>.self)
        return Block32(
            w0: SIMD8<Float>((lanes &<< 24) &>> 24) * d,
            w1: SIMD8<Float>((lanes &<< 16) &>> 24) * d,
            w2: SIMD8<Float>((lanes &<< 8) &>> 24) * d,
            w3: SIMD8<Float>(lanes &>> 24) * d)
    }
}
