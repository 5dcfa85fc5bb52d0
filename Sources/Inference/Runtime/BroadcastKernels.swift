/// Products of a decoded float32 weight tile with 9 to 32 activation vectors held transposed
/// (`xT[c · lanes + v]` = value `c` of vector `v`, zero beyond the batch): each weight is
/// broadcast and multiplied into registers holding one column of 16 vectors, so every
/// weight loaded feeds 16 multiply-adds and nothing is repacked, unlike `sgemm`.
///
/// Five rows × 16 lanes = 10 accumulators of 8 lanes: enough independent chains to cover the
/// FMA latency, with the two activation registers and a broadcast still inside the 16 AVX
/// registers. 32 lanes are two passes over the tile (it stays in cache); a second pass with at
/// most 8 vectors left runs 8 lanes wide (`multiplyEight`).
enum BroadcastKernels {
    /// `y[v · yStride + r] = Σ_c tile[r · columns + c] · xT[c · lanes + v]` for the tile's
    /// rows and `v < batch`; `lanes` is 16 or 32.
    @inline(never)
    static func multiply(tile: UnsafePointer<Float>, rows: Int, columns: Int, xT: UnsafePointer<Float>, lanes: Int, batch: Int, y: UnsafeMutablePointer<Float>, yStride: Int) {
        for first in stride(from: 0, to: batch, by: 16) {
            let x = UnsafeRawPointer(xT + first)
            let laneBytes = lanes * 4
            if batch - first <= 8 {
                multiplyEight(tile: tile, rows: rows, columns: columns, x: x, laneBytes: laneBytes, count: batch - first, y: y + first * yStride, yStride: yStride)
                continue
            }
            var row = 0
            while row < rows {
                let w0 = tile + row * columns
                @inline(__always) func weights(_ offset: Int) -> UnsafePointer<Float> { row + offset < rows ? w0 + offset * columns : w0 }
                let w1 = weights(1), w2 = weights(2), w3 = weights(3), w4 = weights(4)
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), c0 = SIMD8<Float>()
                var c1 = SIMD8<Float>(), d0 = SIMD8<Float>(), d1 = SIMD8<Float>(), e0 = SIMD8<Float>(), e1 = SIMD8<Float>()
                for column in 0..<columns {
                    let p = x + column * laneBytes
                    let x0 = p.loadUnaligned(as: SIMD8<Float>.self), x1 = p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    let s = SIMD8<Float>(repeating: w0[column]), t = SIMD8<Float>(repeating: w1[column])
                    a0.addProduct(s, x0); a1.addProduct(s, x1)
                    b0.addProduct(t, x0); b1.addProduct(t, x1)
                    let u = SIMD8<Float>(repeating: w2[column]), v = SIMD8<Float>(repeating: w3[column])
                    c0.addProduct(u, x0); c1.addProduct(u, x1)
                    d0.addProduct(v, x0); d1.addProduct(v, x1)
                    let z = SIMD8<Float>(repeating: w4[column])
                    e0.addProduct(z, x0); e1.addProduct(z, x1)
                }
                let count = min(16, batch - first)
                let out = y + first * yStride + row
                store(a0, a1, count: count, into: out, yStride: yStride)
                if row + 1 < rows { store(b0, b1, count: count, into: out + 1, yStride: yStride) }
                if row + 2 < rows { store(c0, c1, count: count, into: out + 2, yStride: yStride) }
                if row + 3 < rows { store(d0, d1, count: count, into: out + 3, yStride: yStride) }
                if row + 4 < rows { store(e0, e1, count: count, into: out + 4, yStride: yStride) }
                row += 5
            }
        }
    }

    /// The last pass when at most 8 vectors are left (17–24 of 32 lanes): one register of 8
    /// lanes per row, ten rows at a time, so it costs about half a 16-lane pass. Each lane's
    /// sum runs over the columns in the same order as in `multiply`, so results do not depend
    /// on the pass a vector falls in.
    private static func multiplyEight(tile: UnsafePointer<Float>, rows: Int, columns: Int, x: UnsafeRawPointer, laneBytes: Int, count: Int, y: UnsafeMutablePointer<Float>, yStride: Int) {
        assert(count >= 1 && count <= 8, "an 8-lane pass takes 1 to 8 vectors")
        var row = 0
        while row < rows {
            let w0 = tile + row * columns
            @inline(__always) func weights(_ offset: Int) -> UnsafePointer<Float> { row + offset < rows ? w0 + offset * columns : w0 }
            let w1 = weights(1), w2 = weights(2), w3 = weights(3), w4 = weights(4)
            let w5 = weights(5), w6 = weights(6), w7 = weights(7), w8 = weights(8), w9 = weights(9)
            var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>(), e = SIMD8<Float>()
            var f = SIMD8<Float>(), g = SIMD8<Float>(), h = SIMD8<Float>(), i = SIMD8<Float>(), j = SIMD8<Float>()
            for column in 0..<columns {
                let x0 = (x + column * laneBytes).loadUnaligned(as: SIMD8<Float>.self)
                a.addProduct(SIMD8(repeating: w0[column]), x0); b.addProduct(SIMD8(repeating: w1[column]), x0)
                c.addProduct(SIMD8(repeating: w2[column]), x0); d.addProduct(SIMD8(repeating: w3[column]), x0)
                e.addProduct(SIMD8(repeating: w4[column]), x0); f.addProduct(SIMD8(repeating: w5[column]), x0)
                g.addProduct(SIMD8(repeating: w6[column]), x0); h.addProduct(SIMD8(repeating: w7[column]), x0)
                i.addProduct(SIMD8(repeating: w8[column]), x0); j.addProduct(SIMD8(repeating: w9[column]), x0)
            }
            @inline(__always) func store(_ sums: SIMD8<Float>, _ offset: Int) {
                guard row + offset < rows else { return }
                for vector in 0..<count { y[vector * yStride + row + offset] = sums[vector] }
            }
            store(a, 0); store(b, 1); store(c, 2); store(d, 3); store(e, 4)
            store(f, 5); store(g, 6); store(h, 7); store(i, 8); store(j, 9)
            row += 10
        }
    }

    /// Writes lanes `0..<count` of the 16 lanes `low high` to `y[v · yStride]`.
    @inline(__always)
    private static func store(_ low: SIMD8<Float>, _ high: SIMD8<Float>, count: Int, into y: UnsafeMutablePointer<Float>, yStride: Int) {
        for vector in 0..<count { y[vector * yStride] = vector < 8 ? low[vector] : high[vector - 8] }
    }
}
