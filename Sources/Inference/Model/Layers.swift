import COpenBLAS
import Foundation

/// The per-row operations of a Llama block, written plainly over float32 rows so that a
/// backward pass can mirror each one. Matrix products live in `MatrixMultiply`.
enum Layers {
    /// `out = x / sqrt(mean(x²) + ε) · weight` for one row of `count` values.
    /// Returns `1 / sqrt(mean(x²) + ε)`, the factor the row was scaled by.
    @discardableResult
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, count: Int, into out: UnsafeMutablePointer<Float>) -> Float {
        let scale = inverseRMS(x, epsilon: epsilon, count: count)
        rmsScale(x, scale: scale, weight: weight, count: count, into: out)
        return scale
    }

    /// `1 / sqrt(mean(x²) + ε)` over `count` values.
    static func inverseRMS(_ x: UnsafePointer<Float>, epsilon: Float, count: Int) -> Float {
        let rx = UnsafeRawPointer(x)
        var squares = SIMD8<Float>(), i = 0
        while i + 8 <= count {
            let v = rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            squares.addProduct(v, v)
            i += 8
        }
        var sum = laneSum(squares)
        for j in i..<count { sum += x[j] * x[j] }
        return 1 / (sum / Float(count) + epsilon).squareRoot()
    }

    /// `out = weight · (x · scale)`: the second half of `rmsNorm` with the factor known.
    static func rmsScale(_ x: UnsafePointer<Float>, scale: Float, weight: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        let rx = UnsafeRawPointer(x), rw = UnsafeRawPointer(weight), ro = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 8 <= count {
            let v = rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * scale
            ro.storeBytes(of: rw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        for j in i..<count { out[j] = weight[j] * (x[j] * scale) }
    }

    /// Rotary embedding of `heads` consecutive head vectors of one row, using the cos/sin
    /// of this row's position (`headDimension / 2` each): each pair `(x₀, x₁)` — adjacent
    /// values (`interleaved`) or values half a head apart — becomes
    /// `(x₀·cos − x₁·sin, x₁·cos + x₀·sin)`, eight pairs at a time.
    static func rope(
        _ vector: UnsafeMutablePointer<Float>, heads: Int, headDimension d: Int,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, layout: LlamaConfiguration.RopeLayout
    ) {
        let half = d / 2, rc = UnsafeRawPointer(cos), rs = UnsafeRawPointer(sin)
        for head in 0..<heads {
            let v = vector + head * d, rv = UnsafeMutableRawPointer(v)
            var i = 0
            while i + 8 <= half {
                let c = rc.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), s = rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                if layout == .interleaved {
                    let low = rv.loadUnaligned(fromByteOffset: 8 * i, as: SIMD8<Float>.self), high = rv.loadUnaligned(fromByteOffset: 8 * i + 32, as: SIMD8<Float>.self)
                    let x0 = SIMD8(lowHalf: low.evenHalf, highHalf: high.evenHalf), x1 = SIMD8(lowHalf: low.oddHalf, highHalf: high.oddHalf)
                    let r0 = x0 * c - x1 * s, r1 = x1 * c + x0 * s
                    rv.storeBytes(of: SIMD8(r0[0], r1[0], r0[1], r1[1], r0[2], r1[2], r0[3], r1[3]), toByteOffset: 8 * i, as: SIMD8<Float>.self)
                    rv.storeBytes(of: SIMD8(r0[4], r1[4], r0[5], r1[5], r0[6], r1[6], r0[7], r1[7]), toByteOffset: 8 * i + 32, as: SIMD8<Float>.self)
                } else {
                    let x0 = rv.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), x1 = rv.loadUnaligned(fromByteOffset: 4 * (i + half), as: SIMD8<Float>.self)
                    rv.storeBytes(of: x0 * c - x1 * s, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                    rv.storeBytes(of: x1 * c + x0 * s, toByteOffset: 4 * (i + half), as: SIMD8<Float>.self)
                }
                i += 8
            }
            for j in i..<half {
                let (first, second) = layout == .interleaved ? (2 * j, 2 * j + 1) : (j, j + half)
                let x0 = v[first], x1 = v[second]
                v[first] = x0 * cos[j] - x1 * sin[j]
                v[second] = x1 * cos[j] + x0 * sin[j]
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
    /// `length` cached positions of their shared key/value head, stored as `F`:
    /// `out = softmax(q·Kᵀ / √d) · V`. `scores` needs `length` floats.
    static func attention<F: StoredFloat>(
        _: F.Type, queries: UnsafePointer<Float>, heads: Int, headDimension d: Int, keys: UnsafeRawPointer,
        values: UnsafeRawPointer, length: Int, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        let scale = 1 / Float(d).squareRoot(), rowBytes = d * F.byteWidth
        for head in 0..<heads {
            let q = UnsafeRawPointer(queries + head * d)
            var t = 0
            while t + 4 <= length {
                let four = dot4(F.self, q, keys + t &* rowBytes, rowBytes: rowBytes, count: d)
                for lane in 0..<4 { scores[t + lane] = four[lane] * scale }
                t += 4
            }
            while t < length {
                scores[t] = F.dot(q, keys + t &* rowBytes, count: d) * scale
                t += 1
            }
            VectorMath.softmax(scores, count: length)
            weightedSum(F.self, scores, values, length: length, headDimension: d, into: out + head * d)
        }
    }

    /// `q` dotted with four stored rows `rowBytes` apart (`count` a multiple of 8).
    @inline(__always)
    static func dot4<F: StoredFloat>(_: F.Type, _ q: UnsafeRawPointer, _ rows: UnsafeRawPointer, rowBytes: Int, count: Int) -> SIMD4<Float> {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let r1 = rows + rowBytes, r2 = rows + 2 &* rowBytes, r3 = rows + 3 &* rowBytes
        var c = 0
        while c < count {
            let v = q.loadUnaligned(fromByteOffset: c &* 4, as: SIMD8<Float>.self)
            s0.addProduct(v, F.load8(rows, c))
            s1.addProduct(v, F.load8(r1, c))
            s2.addProduct(v, F.load8(r2, c))
            s3.addProduct(v, F.load8(r3, c))
            c &+= 8
        }
        return SIMD4(laneSum(s0), laneSum(s1), laneSum(s2), laneSum(s3))
    }

    /// `out = Σ_t weights[t] · values[t]` over `length` stored rows of `d` values, 64 columns
    /// at a time held in registers across all rows (`d` a multiple of 8).
    static func weightedSum<F: StoredFloat>(
        _: F.Type, _ weights: UnsafePointer<Float>, _ values: UnsafeRawPointer, length: Int, headDimension d: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let rowBytes = d * F.byteWidth
        var column = 0
        while column < d {
            let width = min(64, d - column)
            var sums = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            if width < 64 { (out + column).initialize(repeating: 0, count: width) }
            var row = values + column &* F.byteWidth
            for t in 0..<length {
                let w = SIMD8<Float>(repeating: weights[t])
                if width == 64 {
                    sums.0.addProduct(w, F.load8(row, 0))
                    sums.1.addProduct(w, F.load8(row, 8))
                    sums.2.addProduct(w, F.load8(row, 16))
                    sums.3.addProduct(w, F.load8(row, 24))
                    sums.4.addProduct(w, F.load8(row, 32))
                    sums.5.addProduct(w, F.load8(row, 40))
                    sums.6.addProduct(w, F.load8(row, 48))
                    sums.7.addProduct(w, F.load8(row, 56))
                } else {
                    let o = UnsafeMutableRawPointer(out + column)
                    var c = 0
                    while c < width {
                        var v = o.loadUnaligned(fromByteOffset: c &* 4, as: SIMD8<Float>.self)
                        v.addProduct(w, F.load8(row, c))
                        o.storeBytes(of: v, toByteOffset: c &* 4, as: SIMD8<Float>.self)
                        c &+= 8
                    }
                }
                row = row + rowBytes
            }
            if width == 64 {
                let o = UnsafeMutableRawPointer(out + column)
                o.storeBytes(of: sums.0, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.1, toByteOffset: 32, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.2, toByteOffset: 64, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.3, toByteOffset: 96, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.4, toByteOffset: 128, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.5, toByteOffset: 160, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.6, toByteOffset: 192, as: SIMD8<Float>.self)
                o.storeBytes(of: sums.7, toByteOffset: 224, as: SIMD8<Float>.self)
            }
            column += width
        }
    }

    /// Causal attention of `rows` consecutive positions `first…` of one sequence for one
    /// query head, as two matrix products: `S = Q·Kᵀ/√d` over the positions up to the last
    /// row's, each row's scores past its own position dropped, softmax, `O = P·V`.
    /// `queries` and `out` rows are `stride` floats apart, `keys` and `values` rows `kvStride`;
    /// `scores` needs `rows · (first + rows)` floats and keeps the probabilities.
    static func attentionBlock(
        queries: UnsafePointer<Float>, stride: Int, rows: Int, first: Int, headDimension d: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        let length = first + rows
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(length), Int32(d),
                    1 / Float(d).squareRoot(), queries, Int32(stride), keys, Int32(kvStride), 0, scores, Int32(length))
        for row in 0..<rows {
            let rowScores = scores + row * length
            let visible = first + row + 1
            VectorMath.softmax(rowScores, count: visible)
            (rowScores + visible).initialize(repeating: 0, count: length - visible)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(length),
                    1, scores, Int32(length), values, Int32(kvStride), 0, out, Int32(stride))
    }
}
