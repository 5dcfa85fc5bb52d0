import COpenBLAS
import Foundation

/// The per-row operations of a Llama block, written plainly over float32 rows so that a
/// backward pass can mirror each one. Matrix products live in `MatrixMultiply`.
enum Layers {
    /// `out = x / sqrt(mean(x²) + ε) · weight` for one row of `count` values.
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, count: Int, into out: UnsafeMutablePointer<Float>) {
        var sum: Float = 0
        for i in 0..<count { sum += x[i] * x[i] }
        let scale = 1 / (sum / Float(count) + epsilon).squareRoot()
        for i in 0..<count { out[i] = weight[i] * (x[i] * scale) }
    }

    /// Rotary embedding of `heads` consecutive head vectors of one row, using the cos/sin
    /// of this row's position (`headDimension / 2` each).
    static func rope(
        _ vector: UnsafeMutablePointer<Float>, heads: Int, headDimension d: Int,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, layout: LlamaConfiguration.RopeLayout
    ) {
        let half = d / 2
        for head in 0..<heads {
            let v = vector + head * d
            for i in 0..<half {
                let (first, second) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                let x0 = v[first], x1 = v[second]
                v[first] = x0 * cos[i] - x1 * sin[i]
                v[second] = x1 * cos[i] + x0 * sin[i]
            }
        }
    }

    /// The rotation angles' cos and sin for `position`: `θ_i = position · base^(−2i/d)`,
    /// computed in float32 like the reference.
    static func ropeAngles(position: Int, headDimension d: Int, base: Float, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        for i in 0..<(d / 2) {
            let inverseFrequency = 1 / Foundation.pow(base, Float(2 * i) / Float(d))
            let angle = Float(position) * inverseFrequency
            cos[i] = Foundation.cos(angle)
            sin[i] = Foundation.sin(angle)
        }
    }

    /// `gate = silu(gate) · up` elementwise over `count` values, silu(g) = g / (1 + e⁻ᵍ).
    static func swiGLU(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let g = UnsafeMutableRawPointer(gate), u = UnsafeRawPointer(up)
        var i = 0
        while i + 8 <= count {
            let x = g.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            let silu = x / (1 + VectorMath.exp(-x))
            g.storeBytes(of: silu * u.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        for j in i..<count { gate[j] = gate[j] / (1 + Foundation.exp(-gate[j])) * up[j] }
    }

    /// Causal attention of `heads` consecutive query heads of one row over the first
    /// `length` cached positions of their shared key/value head:
    /// `out = softmax(q·Kᵀ / √d) · V`. `scores` needs `length` floats.
    static func attention(
        queries: UnsafePointer<Float>, heads: Int, headDimension d: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, length: Int, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        let scale = 1 / Float(d).squareRoot()
        for head in 0..<heads {
            let q = queries + head * d
            for t in 0..<length { scores[t] = dot(q, keys + t * d, count: d) * scale }
            VectorMath.softmax(scores, count: length)
            let o = out + head * d
            o.initialize(repeating: 0, count: d)
            for t in 0..<length { axpy(scores[t], values + t * d, o, count: d) }
        }
    }

    /// Causal attention of `rows` consecutive positions `first…` of one sequence for one
    /// query head, as two matrix products: `S = Q·Kᵀ/√d` over the positions up to the last
    /// row's, each row's scores past its own position dropped, softmax, `O = P·V`.
    /// `queries` and `out` rows are `stride` floats apart; `scores` needs `rows · (first + rows)` floats.
    static func attentionBlock(
        queries: UnsafePointer<Float>, stride: Int, rows: Int, first: Int, headDimension d: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        let length = first + rows
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(length), Int32(d),
                    1 / Float(d).squareRoot(), queries, Int32(stride), keys, Int32(d), 0, scores, Int32(length))
        for row in 0..<rows {
            let rowScores = scores + row * length
            let visible = first + row + 1
            VectorMath.softmax(rowScores, count: visible)
            (rowScores + visible).initialize(repeating: 0, count: length - visible)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(length),
                    1, scores, Int32(length), values, Int32(d), 0, out, Int32(stride))
    }

    /// `Σ a[i]·b[i]` for `count` a multiple of 8.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        for offset in stride(from: 0, to: count * 4, by: 32) {
            sum.addProduct(ra.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
        }
        return sum.sum()
    }

    /// `y += alpha · x` for `count` a multiple of 8.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let a = SIMD8<Float>(repeating: alpha)
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        for offset in stride(from: 0, to: count * 4, by: 32) {
            var v = ry.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            v.addProduct(a, rx.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
            ry.storeBytes(of: v, toByteOffset: offset, as: SIMD8<Float>.self)
        }
    }
}
