/// Elementwise functions on 8-lane float vectors, accurate to a few ulp.
enum VectorMath {
    /// eˣ lane-wise (Cephes' single-precision method): x = n·ln2 + r with |r| ≤ ln2/2,
    /// a degree-6 polynomial for eʳ, and 2ⁿ put straight into the exponent bits.
    /// Inputs are clamped to [−87.3, 88.7], the range where the result is a normal float.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var clamped = x
        clamped.replace(with: SIMD8(repeating: -87.3), where: clamped .< -87.3)
        clamped.replace(with: SIMD8(repeating: 88.7), where: clamped .> 88.7)
        // Round x·log2(e) to the nearest integer by adding 1.5·2²³.
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4) * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let e = p * (r * r) + r + 1
        return e * unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD8<Float>.self)
    }

    /// Replaces `values[0..<count]` by their softmax.
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, values[i]) }
        var total: Float = 0
        map(values, count: count) { exp($0 - SIMD8(repeating: maximum)) }
        for i in 0..<count { total += values[i] }
        let inverse = 1 / total
        map(values, count: count) { $0 * inverse }
    }

    /// Applies `transform` to `values[0..<count]` eight at a time (the tail padded with zeros).
    @inline(__always)
    static func map(_ values: UnsafeMutablePointer<Float>, count: Int, _ transform: (SIMD8<Float>) -> SIMD8<Float>) {
        let raw = UnsafeMutableRawPointer(values)
        var i = 0
        while i + 8 <= count {
            raw.storeBytes(of: transform(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)), toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        guard i < count else { return }
        var tail = SIMD8<Float>()
        for lane in 0..<(count - i) { tail[lane] = values[i + lane] }
        let result = transform(tail)
        for lane in 0..<(count - i) { values[i + lane] = result[lane] }
    }
}
