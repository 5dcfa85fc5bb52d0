import COpenBLAS

/// The two products of a LoRA delta `y += scale·(x·Aᵀ)·Bᵀ` for one adapter's rows
/// (Punica's names): `shrink` maps rows to rank width, `expand` adds them back at output
/// width. A few rows (decode) use register kernels that read each factor once, widening as
/// they load; many rows (prefill) use `sgemm`, on float32 copies for 16-bit factors. `B` is
/// stored in panels of `LoRAAdapter.panelWidth` columns, each `rank × width` row-major.
enum LowRankKernels {
    /// Rows from which `sgemm` replaces the register kernels.
    static let sgemmRowsMin = 8

    /// `t[row·rank + k] = scale · Σ_c A[k, c] · x[row·xStride + c]` for `rows` rows; `A` is
    /// `rank × inputs` row-major, `inputs` a multiple of 8. `scratch` (`scratchFloats`) holds
    /// the float32 copy of a 16-bit `A` for `sgemm`.
    static func shrink<F: StoredFloat>(
        _: F.Type, x: UnsafePointer<Float>, xStride: Int, rows: Int, a: UnsafeRawPointer, rank: Int, inputs: Int, scale: Float,
        into t: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, scratchFloats: Int
    ) {
        if rows >= sgemmRowsMin, F.self == StoredF32.self || rank * inputs <= scratchFloats {
            let matrix = F.self == StoredF32.self ? a.assumingMemoryBound(to: Float.self) : UnsafePointer(F.widen(a, count: rank * inputs, into: scratch))
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(rank), Int32(inputs),
                        scale, x, Int32(xStride), matrix, Int32(inputs), 0, t, Int32(rank))
            return
        }
        let rowBytes = inputs * F.byteWidth
        for row in 0..<rows {
            let xr = UnsafeRawPointer(x + row * xStride), tr = t + row * rank
            var k = 0
            while k &+ 8 <= rank {
                let eight = dot8(F.self, xr, a + k &* rowBytes, rowBytes: rowBytes, count: inputs) * scale
                UnsafeMutableRawPointer(tr + k).storeBytes(of: eight, as: SIMD8<Float>.self)
                k &+= 8
            }
            while k < rank {
                tr[k] = F.dot(xr, a + k &* rowBytes, count: inputs) * scale
                k &+= 1
            }
        }
    }

    /// `x` dotted with the eight `count`-wide rows from `a`, `rowBytes` apart: eight
    /// independent accumulators, so the multiply-adds do not wait on each other.
    @inline(__always)
    static func dot8<F: StoredFloat>(_: F.Type, _ x: UnsafeRawPointer, _ a: UnsafeRawPointer, rowBytes: Int, count: Int) -> SIMD8<Float> {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var s4 = SIMD8<Float>(), s5 = SIMD8<Float>(), s6 = SIMD8<Float>(), s7 = SIMD8<Float>()
        let a1 = a + rowBytes, a2 = a + 2 &* rowBytes, a3 = a + 3 &* rowBytes, a4 = a + 4 &* rowBytes
        let a5 = a + 5 &* rowBytes, a6 = a + 6 &* rowBytes, a7 = a + 7 &* rowBytes
        var c = 0
        while c < count {
            let v = x.loadUnaligned(fromByteOffset: c &* 4, as: SIMD8<Float>.self)
            s0.addProduct(v, F.load8(a, c)); s1.addProduct(v, F.load8(a1, c))
            s2.addProduct(v, F.load8(a2, c)); s3.addProduct(v, F.load8(a3, c))
            s4.addProduct(v, F.load8(a4, c)); s5.addProduct(v, F.load8(a5, c))
            s6.addProduct(v, F.load8(a6, c)); s7.addProduct(v, F.load8(a7, c))
            c &+= 8
        }
        return SIMD8(laneSum(s0), laneSum(s1), laneSum(s2), laneSum(s3), laneSum(s4), laneSum(s5), laneSum(s6), laneSum(s7))
    }

    /// `y[row·yStride + o] += Σ_k t[row·rank + k] · B[o, k]` for `rows` rows and every
    /// output `o` of the panels of `B`.
    static func expand<F: StoredFloat>(
        _: F.Type, t: UnsafePointer<Float>, rows: Int, rank: Int, panels: UnsafeRawPointer, outputs: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int, scratch: UnsafeMutablePointer<Float>, scratchFloats: Int
    ) {
        let width = LoRAAdapter.panelWidth
        var first = 0
        while first < outputs {
            let columns = min(width, outputs - first)
            let panel = first * rank
            if rows >= sgemmRowsMin, F.self == StoredF32.self || rank * columns <= scratchFloats {
                let matrix = F.self == StoredF32.self
                    ? (panels + 4 * panel).assumingMemoryBound(to: Float.self)
                    : UnsafePointer(F.widen(panels + F.byteWidth * panel, count: rank * columns, into: scratch))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), Int32(rank),
                            1, t, Int32(rank), matrix, Int32(columns), 1, y + first, Int32(yStride))
            } else if columns == width {
                var row = 0
                while row + 2 <= rows {
                    addFullPanel2(F.self, t + row * rank, rank: rank, panels, panel, y + row * yStride + first, y + (row + 1) * yStride + first)
                    row += 2
                }
                if row < rows { addFullPanel(F.self, t + row * rank, rank: rank, panels, panel, y + row * yStride + first) }
            } else {
                for row in 0..<rows {
                    for k in 0..<rank {
                        let w = t[row * rank + k], start = panel + k * columns
                        for column in 0..<columns { y[row * yStride + first + column] += w * F.load(panels, start + column) }
                    }
                }
            }
            first += columns
        }
    }

    /// One row, one 32-column panel starting at element `panel`: even and odd `k` in
    /// accumulators of their own (eight in all), so the multiply-adds do not wait on each other.
    @inline(__always)
    static func addFullPanel<F: StoredFloat>(_: F.Type, _ t: UnsafePointer<Float>, rank: Int, _ panels: UnsafeRawPointer, _ panel: Int, _ y: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(y)
        var s0 = out.loadUnaligned(as: SIMD8<Float>.self), s1 = out.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var s2 = out.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), s3 = out.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        var u0 = SIMD8<Float>(), u1 = SIMD8<Float>(), u2 = SIMD8<Float>(), u3 = SIMD8<Float>()
        var row = panels + panel &* F.byteWidth
        let rowBytes = 32 &* F.byteWidth
        var k = 0
        while k &+ 2 <= rank {
            let w = SIMD8<Float>(repeating: t[k]), v = SIMD8<Float>(repeating: t[k &+ 1]), next = row + rowBytes
            s0.addProduct(w, F.load8(row, 0)); s1.addProduct(w, F.load8(row, 8))
            s2.addProduct(w, F.load8(row, 16)); s3.addProduct(w, F.load8(row, 24))
            u0.addProduct(v, F.load8(next, 0)); u1.addProduct(v, F.load8(next, 8))
            u2.addProduct(v, F.load8(next, 16)); u3.addProduct(v, F.load8(next, 24))
            row = next + rowBytes
            k &+= 2
        }
        if k < rank {
            let w = SIMD8<Float>(repeating: t[k])
            s0.addProduct(w, F.load8(row, 0)); s1.addProduct(w, F.load8(row, 8))
            s2.addProduct(w, F.load8(row, 16)); s3.addProduct(w, F.load8(row, 24))
        }
        out.storeBytes(of: s0 + u0, as: SIMD8<Float>.self)
        out.storeBytes(of: s1 + u1, toByteOffset: 32, as: SIMD8<Float>.self)
        out.storeBytes(of: s2 + u2, toByteOffset: 64, as: SIMD8<Float>.self)
        out.storeBytes(of: s3 + u3, toByteOffset: 96, as: SIMD8<Float>.self)
    }

    /// Two rows, one 32-column panel: each panel row loaded once for both.
    @inline(__always)
    static func addFullPanel2<F: StoredFloat>(
        _: F.Type, _ t: UnsafePointer<Float>, rank: Int, _ panels: UnsafeRawPointer, _ panel: Int, _ y0: UnsafeMutablePointer<Float>, _ y1: UnsafeMutablePointer<Float>
    ) {
        let o0 = UnsafeMutableRawPointer(y0), o1 = UnsafeMutableRawPointer(y1)
        var a0 = o0.loadUnaligned(as: SIMD8<Float>.self), a1 = o0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var a2 = o0.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), a3 = o0.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        var b0 = o1.loadUnaligned(as: SIMD8<Float>.self), b1 = o1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var b2 = o1.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), b3 = o1.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        var row = panels + panel &* F.byteWidth
        let rowBytes = 32 &* F.byteWidth
        var k = 0
        while k < rank {
            let u = SIMD8<Float>(repeating: t[k]), v = SIMD8<Float>(repeating: t[rank &+ k])
            let w0 = F.load8(row, 0), w1 = F.load8(row, 8), w2 = F.load8(row, 16), w3 = F.load8(row, 24)
            a0.addProduct(u, w0); a1.addProduct(u, w1); a2.addProduct(u, w2); a3.addProduct(u, w3)
            b0.addProduct(v, w0); b1.addProduct(v, w1); b2.addProduct(v, w2); b3.addProduct(v, w3)
            row = row + rowBytes
            k &+= 1
        }
        o0.storeBytes(of: a0, as: SIMD8<Float>.self)
        o0.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
        o0.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
        o0.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
        o1.storeBytes(of: b0, as: SIMD8<Float>.self)
        o1.storeBytes(of: b1, toByteOffset: 32, as: SIMD8<Float>.self)
        o1.storeBytes(of: b2, toByteOffset: 64, as: SIMD8<Float>.self)
        o1.storeBytes(of: b3, toByteOffset: 96, as: SIMD8<Float>.self)
    }
}
