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

enum Q4_0Decoder: BlockDecoder {
    static var blockBytes: Int { 18 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let d = SIMD8<Float>(repeating: blockHeader(block)[0])
        let q = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        let low = SIMD16<Int8>(truncatingIfNeeded: q & 0x0F) &- 8
        let high = SIMD16<Int8>(truncatingIfNeeded: q &>> 4) &- 8
        return Block32(
            w0: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: low.lowHalf)) * d,
            w1: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: low.highHalf)) * d,
            w2: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: high.lowHalf)) * d,
            w3: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: high.highHalf)) * d)
    }
}

enum Q4_1Decoder: BlockDecoder {
    static var blockBytes: Int { 20 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let header = blockHeader(block)
        let d = SIMD8<Float>(repeating: header[0])
        let m = SIMD8<Float>(repeating: header[1])
        let q = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        let low = q & 0x0F
        let high = q &>> 4
        return Block32(
            w0: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: low.lowHalf)) * d + m,
            w1: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: low.highHalf)) * d + m,
            w2: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: high.lowHalf)) * d + m,
            w3: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: high.highHalf)) * d + m)
    }
}

enum Q8_0Decoder: BlockDecoder {
    static var blockBytes: Int { 34 }
    @inline(__always) static func decode(_ block: UnsafeRawPointer) -> Block32 {
        let d = SIMD8<Float>(repeating: blockHeader(block)[0])
        @inline(__always) func widen(_ offset: Int) -> SIMD8<Float> {
            SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 2 + offset, as: SIMD8<Int8>.self))) * d
        }
        return Block32(w0: widen(0), w1: widen(8), w2: widen(16), w3: widen(24))
    }
}
