import COpenBLAS

/// The two products of a LoRA delta `y += scale·(x·Aᵀ)·Bᵀ` for one adapter's rows
/// (Punica's names): `shrink` maps rows to rank width, `expand` adds them back at output
/// width. A few rows (decode) use register kernels that read each factor once; many rows
/// (prefill) use `sgemm`. `B` is stored in panels of `LoRAAdapter.panelWidth` columns,
/// each `rank × width` row-major (see `LoRATarget`).
enum LowRankKernels {
    /// Rows from which `sgemm` replaces the register kernels.
    static let sgemmRowsMin = 8

    /// `t[row·rank + k] = scale · Σ_c A[k, c] · x[row·xStride + c]` for `rows` rows;
    /// `A` is `rank × inputs` row-major, `inputs` a multiple of 8.
    static func shrink(
        x: UnsafePointer<Float>, xStride: Int, rows: Int, a: UnsafePointer<Float>, rank: Int, inputs: Int, scale: Float,
        into t: UnsafeMutablePointer<Float>
    ) {
        if rows >= sgemmRowsMin {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(rank), Int32(inputs),
                        scale, x, Int32(xStride), a, Int32(inputs), 0, t, Int32(rank))
            return
        }
        for row in 0..<rows {
            let xr = x + row * xStride, tr = t + row * rank
            var k = 0
            while k + 4 <= rank {
                let four = Layers.dot4(xr, a + k * inputs, stride: inputs, count: inputs) * scale
                for lane in 0..<4 { tr[k + lane] = four[lane] }
                k += 4
            }
            while k < rank {
                tr[k] = Layers.dot(xr, a + k * inputs, count: inputs) * scale
                k += 1
            }
        }
    }

    /// `y[row·yStride + o] += Σ_k t[row·rank + k] · B[o, k]` for `rows` rows and every
    /// output `o` of the panels of `B`.
    static func expand(
        t: UnsafePointer<Float>, rows: Int, rank: Int, panels: UnsafePointer<Float>, outputs: Int,
        y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        let width = LoRAAdapter.panelWidth
        var first = 0
        while first < outputs {
            let columns = min(width, outputs - first)
            let panel = panels + first * rank
            if rows >= sgemmRowsMin {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(columns), Int32(rank),
                            1, t, Int32(rank), panel, Int32(columns), 1, y + first, Int32(yStride))
            } else if columns == width {
                var row = 0
                while row + 2 <= rows {
                    addFullPanel2(t + row * rank, rank: rank, panel, y + row * yStride + first, y + (row + 1) * yStride + first)
                    row += 2
                }
                if row < rows { addFullPanel(t + row * rank, rank: rank, panel, y + row * yStride + first) }
            } else {
                for row in 0..<rows { addPanel(t + row * rank, rank: rank, panel, columns: columns, y + row * yStride + first) }
            }
            first += columns
        }
    }

    /// One row, one 32-column panel: four accumulators held across the rank.
    @inline(__always)
    static func addFullPanel(_ t: UnsafePointer<Float>, rank: Int, _ panel: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(y), p = UnsafeRawPointer(panel)
        var s0 = out.loadUnaligned(as: SIMD8<Float>.self), s1 = out.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var s2 = out.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), s3 = out.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        for k in 0..<rank {
            let w = SIMD8<Float>(repeating: t[k]), row = p + k * 128
            s0.addProduct(w, row.loadUnaligned(as: SIMD8<Float>.self))
            s1.addProduct(w, row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            s2.addProduct(w, row.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            s3.addProduct(w, row.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        }
        out.storeBytes(of: s0, as: SIMD8<Float>.self)
        out.storeBytes(of: s1, toByteOffset: 32, as: SIMD8<Float>.self)
        out.storeBytes(of: s2, toByteOffset: 64, as: SIMD8<Float>.self)
        out.storeBytes(of: s3, toByteOffset: 96, as: SIMD8<Float>.self)
    }

    /// Two rows, one 32-column panel: each panel row loaded once for both.
    @inline(__always)
    static func addFullPanel2(_ t: UnsafePointer<Float>, rank: Int, _ panel: UnsafePointer<Float>, _ y0: UnsafeMutablePointer<Float>, _ y1: UnsafeMutablePointer<Float>) {
        let o0 = UnsafeMutableRawPointer(y0), o1 = UnsafeMutableRawPointer(y1), p = UnsafeRawPointer(panel)
        var a0 = o0.loadUnaligned(as: SIMD8<Float>.self), a1 = o0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var a2 = o0.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), a3 = o0.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        var b0 = o1.loadUnaligned(as: SIMD8<Float>.self), b1 = o1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var b2 = o1.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), b3 = o1.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        for k in 0..<rank {
            let u = SIMD8<Float>(repeating: t[k]), v = SIMD8<Float>(repeating: t[rank + k]), row = p + k * 128
            let w0 = row.loadUnaligned(as: SIMD8<Float>.self), w1 = row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let w2 = row.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), w3 = row.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            a0.addProduct(u, w0); a1.addProduct(u, w1); a2.addProduct(u, w2); a3.addProduct(u, w3)
            b0.addProduct(v, w0); b1.addProduct(v, w1); b2.addProduct(v, w2); b3.addProduct(v, w3)
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

    /// One row, a narrower last panel of `columns` outputs.
    static func addPanel(_ t: UnsafePointer<Float>, rank: Int, _ panel: UnsafePointer<Float>, columns: Int, _ y: UnsafeMutablePointer<Float>) {
        for k in 0..<rank {
            let w = t[k], row = panel + k * columns
            for column in 0..<columns { y[column] += w * row[column] }
        }
    }
}
