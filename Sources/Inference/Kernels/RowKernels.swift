/// Dot products of encoded weight rows with float32 activation vectors, decoding each
/// 32-weight block once into registers and using it for up to four activation vectors.
/// Sums are kept in several 8-lane accumulators so the FMA chains overlap.
enum RowKernels {
    /// `y[v * yStride + r] = Σ_c W[r, c] · x[v * xStride + c]` for `r` in `rows`, `v` in `0..<vectors`.
    /// `blockSums[v * blocks + b]` is the sum of vector `v`'s values in block `b`.
    /// Not inlined: each encoding gets its own specialised copy, compiled on its own.
    @inline(never)
    static func multiply<D: BlockDecoder>(
        _: D.Type, weights: UnsafeRawPointer, rowBytes: Int, blocks: Int, rows: Range<Int>,
        x: UnsafePointer<Float>, xStride: Int, blockSums: UnsafePointer<Float>, vectors: Int, y: UnsafeMutablePointer<Float>, yStride: Int
    ) {
        for row in rows {
            let w = weights + row * rowBytes
            var vector = 0
            while vector < vectors {
                let xv = x + vector * xStride
                let yv = y + vector * yStride + row
                switch vectors - vector {
                case 8...:
                    dot8(D.self, w, blocks, xv, xStride, yv, yStride)
                    vector += 8
                case 4...:
                    dot4(D.self, w, blocks, xv, xStride, yv, yStride)
                    vector += 4
                case 2, 3:
                    dot2(D.self, w, blocks, xv, xStride, yv, yStride)
                    vector += 2
                default:
                    yv.pointee = dot1(D.self, w, blocks, xv, blockSums + vector * blocks)
                    vector += 1
                }
            }
        }
    }

    @inline(__always)
    static func dot1<D: BlockDecoder>(_: D.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ x: UnsafePointer<Float>, _ blockSums: UnsafePointer<Float>) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var o0: Float = 0, o1: Float = 0
        var block = 0
        while block + 1 < blocks {
            D.accumulateDot(w, block: block, UnsafeRawPointer(x + block * 32), blockSum: blockSums[block], &a0, &o0)
            D.accumulateDot(w, block: block + 1, UnsafeRawPointer(x + (block + 1) * 32), blockSum: blockSums[block + 1], &a1, &o1)
            block += 2
        }
        if block < blocks {
            D.accumulateDot(w, block: block, UnsafeRawPointer(x + block * 32), blockSum: blockSums[block], &a0, &o0)
        }
        return laneSum(a0 + a1) + (o0 + o1)
    }

    @inline(__always)
    static func dot2<D: BlockDecoder>(
        _: D.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int
    ) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b0 = SIMD8<Float>(), b1 = SIMD8<Float>()
        let x1 = x + xStride
        for block in 0..<blocks {
            let v = D.decode(w, block: block)
            let p = UnsafeRawPointer(x + block * 32), q = UnsafeRawPointer(x1 + block * 32)
            a0.addProduct(v.w0, p.loadUnaligned(as: SIMD8<Float>.self))
            b0.addProduct(v.w0, q.loadUnaligned(as: SIMD8<Float>.self))
            a1.addProduct(v.w1, p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            b1.addProduct(v.w1, q.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            a0.addProduct(v.w2, p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            b0.addProduct(v.w2, q.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            a1.addProduct(v.w3, p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            b1.addProduct(v.w3, q.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        }
        y.pointee = laneSum(a0 + a1)
        y[yStride] = laneSum(b0 + b1)
    }

    @inline(__always)
    static func dot4<D: BlockDecoder>(
        _: D.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int
    ) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b0 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), d0 = SIMD8<Float>(), d1 = SIMD8<Float>()
        let xb = x + xStride, xc = x + 2 * xStride, xd = x + 3 * xStride
        for block in 0..<blocks {
            let v = D.decode(w, block: block)
            let offset = block * 32
            let p = UnsafeRawPointer(x + offset), q = UnsafeRawPointer(xb + offset)
            let r = UnsafeRawPointer(xc + offset), s = UnsafeRawPointer(xd + offset)
            a0.addProduct(v.w0, p.loadUnaligned(as: SIMD8<Float>.self))
            b0.addProduct(v.w0, q.loadUnaligned(as: SIMD8<Float>.self))
            c0.addProduct(v.w0, r.loadUnaligned(as: SIMD8<Float>.self))
            d0.addProduct(v.w0, s.loadUnaligned(as: SIMD8<Float>.self))
            a1.addProduct(v.w1, p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            b1.addProduct(v.w1, q.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            c1.addProduct(v.w1, r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            d1.addProduct(v.w1, s.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            a0.addProduct(v.w2, p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            b0.addProduct(v.w2, q.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            c0.addProduct(v.w2, r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            d0.addProduct(v.w2, s.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            a1.addProduct(v.w3, p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            b1.addProduct(v.w3, q.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            c1.addProduct(v.w3, r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            d1.addProduct(v.w3, s.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        }
        y.pointee = laneSum(a0 + a1)
        y[yStride] = laneSum(b0 + b1)
        y[2 * yStride] = laneSum(c0 + c1)
        y[3 * yStride] = laneSum(d0 + d1)
    }

    /// Eight vectors, one accumulator each: every decoded block feeds 32 FMAs.
    @inline(__always)
    static func dot8<D: BlockDecoder>(
        _: D.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ x: UnsafePointer<Float>, _ xStride: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int
    ) {
        var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
        var e = SIMD8<Float>(), f = SIMD8<Float>(), g = SIMD8<Float>(), h = SIMD8<Float>()
        let stride = xStride * 4
        for block in 0..<blocks {
            let v = D.decode(w, block: block)
            let p = UnsafeRawPointer(x + block * 32)
            @inline(__always) func accumulate(_ sum: inout SIMD8<Float>, _ q: UnsafeRawPointer) {
                sum.addProduct(v.w0, q.loadUnaligned(as: SIMD8<Float>.self))
                sum.addProduct(v.w1, q.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                sum.addProduct(v.w2, q.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                sum.addProduct(v.w3, q.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            }
            accumulate(&a, p)
            accumulate(&b, p + stride)
            accumulate(&c, p + 2 * stride)
            accumulate(&d, p + 3 * stride)
            accumulate(&e, p + 4 * stride)
            accumulate(&f, p + 5 * stride)
            accumulate(&g, p + 6 * stride)
            accumulate(&h, p + 7 * stride)
        }
        y.pointee = laneSum(a)
        y[yStride] = laneSum(b)
        y[2 * yStride] = laneSum(c)
        y[3 * yStride] = laneSum(d)
        y[4 * yStride] = laneSum(e)
        y[5 * yStride] = laneSum(f)
        y[6 * yStride] = laneSum(g)
        y[7 * yStride] = laneSum(h)
    }

    /// Writes blocks `blocks` of rows `rows` of the matrix as float32, `32 · blocks.count`
    /// values per row, into `target`.
    @inline(never)
    static func dequantize<D: BlockDecoder>(
        _: D.Type, weights: UnsafeRawPointer, rowBytes: Int, blocks: Range<Int>, rows: Range<Int>, into target: UnsafeMutablePointer<Float>
    ) {
        var out = UnsafeMutableRawPointer(target)
        for row in rows {
            let w = weights + row * rowBytes
            for block in blocks {
                let v = D.decode(w, block: block)
                out.storeBytes(of: v.w0, as: SIMD8<Float>.self)
                out.storeBytes(of: v.w1, toByteOffset: 32, as: SIMD8<Float>.self)
                out.storeBytes(of: v.w2, toByteOffset: 64, as: SIMD8<Float>.self)
                out.storeBytes(of: v.w3, toByteOffset: 96, as: SIMD8<Float>.self)
                out += 128
            }
        }
    }
}
