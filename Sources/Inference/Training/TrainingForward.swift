import COpenBLAS

extension TrainingPass {
    /// Embeds the tokens and runs every block, saving its activations.
    func forward(_ values: UnsafePointer<Float>) {
        let h = c.hiddenSize, d = c.headDimension, a = attentionWidth, kv = kvWidth
        let weights = engine.model.weights
        engine.forEachRowChunk(rows) { range in
            for r in range { weights.embedding.dequantize(rows: Int(tokens[r])..<Int(tokens[r]) + 1, into: saved[0].input + r * h) }
        }
        for layer in 0..<c.layerCount {
            let s = saved[layer], block = weights.layers[layer]
            let next = layer + 1 < c.layerCount ? saved[layer + 1].input : finalInput
            normalize(s.input, weight: block.attentionNorm, scales: s.attentionScale, into: normed)
            project([(.query, normed, s.queries), (.key, normed, s.keys), (.value, normed, s.values)], layer: layer, values: values)
            engine.forEachRowChunk(rows) { range in
                for r in range {
                    let angle = positions[r] * d / 2
                    Layers.rope(s.queries + r * a, heads: c.headCount, headDimension: d, cos: cos + angle, sin: sin + angle, layout: c.ropeLayout)
                    Layers.rope(s.keys + r * kv, heads: c.kvHeadCount, headDimension: d, cos: cos + angle, sin: sin + angle, layout: c.ropeLayout)
                }
            }
            attend(s)
            project([(.output, s.attention, sublayer)], layer: layer, values: values)
            add(s.input, sublayer, into: s.middle, width: h)
            normalize(s.middle, weight: block.feedForwardNorm, scales: s.feedForwardScale, into: normed)
            project([(.gate, normed, s.gate), (.up, normed, s.up)], layer: layer, values: values)
            swiGLU(s, into: activation)
            project([(.down, activation, sublayer)], layer: layer, values: values)
            add(s.middle, sublayer, into: next, width: h)
        }
    }

    /// `out[r] = weight · x[r] / RMS(x[r])` for every row, keeping each row's `1/RMS` in `scales`.
    func normalize(_ x: UnsafePointer<Float>, weight: [Float], scales: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let h = c.hiddenSize, epsilon = c.rmsNormEpsilon
        weight.withUnsafeBufferPointer { weight in
            engine.forEachRowChunk(rows) { range in
                for r in range { scales[r] = Layers.rmsNorm(x + r * h, weight: weight.baseAddress!, epsilon: epsilon, count: h, into: out + r * h) }
            }
        }
    }

    /// The normalised rows again from the saved input and factors.
    func renormalize(_ x: UnsafePointer<Float>, weight: [Float], scales: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let h = c.hiddenSize
        weight.withUnsafeBufferPointer { weight in
            engine.forEachRowChunk(rows) { range in
                for r in range { Layers.rmsScale(x + r * h, scale: scales[r], weight: weight.baseAddress!, count: h, into: out + r * h) }
            }
        }
    }

    func add(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, width: Int) {
        engine.forEachRowChunk(rows) { range in
            for index in (range.lowerBound * width)..<(range.upperBound * width) { out[index] = x[index] + y[index] }
        }
    }

    /// `out = silu(gate) · up` from the saved projections.
    func swiGLU(_ s: SavedBlock, into out: UnsafeMutablePointer<Float>) {
        let i = c.intermediateSize
        engine.forEachRowChunk(rows) { range in
            let start = range.lowerBound * i, count = range.count * i
            (out + start).update(from: s.gate + start, count: count)
            Layers.swiGLU(out + start, up: s.up + start, count: count)
        }
    }

    /// `y = x · Wᵀ + scale · (x · Aᵀ) · Bᵀ` for each listed projection of `layer`, saving
    /// `x · Aᵀ` of adapted ones. `x` and `y` rows are packed at the projection's widths.
    func project(_ maps: [(Projection, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>)], layer: Int, values: UnsafePointer<Float>) {
        let block = engine.model.weights.layers[layer]
        let products = maps.map { projection, x, y in
            let matrix = block.matrix(projection)
            return MatrixProduct(weights: matrix, x: x, xStride: matrix.columns, y: y, yStride: matrix.rows)
        }
        MatrixMultiply.run(products, batch: rows, pool: engine.pool, scratch: engine.scratch)
        for (projection, x, y) in maps {
            guard let index = module(layer, projection) else { continue }
            let m = parameters.modules[index], u = inner[index]
            let (r, outputs) = (Int32(m.rank), Int32(m.outputs))
            lowRankInput(index, x: x, values: values)
            engine.forEachRowChunk(rows) { range in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(range.count), outputs, r, m.scale,
                            u + range.lowerBound * m.rank, r, values + m.bOffset, r, 1, y + range.lowerBound * m.outputs, outputs)
            }
        }
    }

    /// `inner[index] = x · Aᵀ` of LoRA module `index` for every row.
    func lowRankInput(_ index: Int, x: UnsafePointer<Float>, values: UnsafePointer<Float>) {
        let m = parameters.modules[index], u = inner[index]
        let (r, inputs) = (Int32(m.rank), Int32(m.inputs))
        engine.forEachRowChunk(rows) { range in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(range.count), r, inputs, 1,
                        x + range.lowerBound * m.inputs, inputs, values + m.aOffset, inputs, 0, u + range.lowerBound * m.rank, r)
        }
    }

    /// Every LoRA module's `x · Aᵀ` from a recorded forward pass (which keeps the blocks'
    /// activations but not these), each module's input rebuilt from what the block saved.
    func lowRankInputs(_ values: UnsafePointer<Float>) {
        let norms = engine.model.weights.layers
        for layer in 0..<c.layerCount {
            let s = saved[layer]
            let adapted = Projection.allCases.compactMap { projection in module(layer, projection).map { (projection, $0) } }
            if adapted.contains(where: { [.query, .key, .value].contains($0.0) }) {
                renormalize(s.input, weight: norms[layer].attentionNorm, scales: s.attentionScale, into: normed)
            }
            for (projection, index) in adapted where [.query, .key, .value].contains(projection) { lowRankInput(index, x: normed, values: values) }
            if adapted.contains(where: { [.gate, .up].contains($0.0) }) {
                renormalize(s.middle, weight: norms[layer].feedForwardNorm, scales: s.feedForwardScale, into: normed)
            }
            for (projection, index) in adapted where [.gate, .up].contains(projection) { lowRankInput(index, x: normed, values: values) }
            for (projection, index) in adapted where projection == .output { lowRankInput(index, x: s.attention, values: values) }
            if let index = module(layer, .down) {
                swiGLU(s, into: activation)
                lowRankInput(index, x: activation, values: values)
            }
        }
    }

    /// Causal attention of every sequence's query heads, one (sequence, head) per work item.
    func attend(_ s: SavedBlock) {
        let d = c.headDimension, a = attentionWidth, kv = kvWidth, group = c.groupSize
        engine.attentionScratch.reserve(floats: 2 * longest * longest)
        let items = sequences.count * c.headCount, scores = engine.attentionScratch
        engine.pool.forEachChunk(items, chunk: 1) { member, range in
            for item in range {
                let (start, length) = sequences[item / c.headCount]
                let head = item % c.headCount, kvHead = head / group
                Layers.attentionBlock(
                    queries: s.queries + start * a + head * d, stride: a, rows: length, first: 0, headDimension: d,
                    keys: s.keys + start * kv + kvHead * d, values: s.values + start * kv + kvHead * d, kvStride: kv,
                    scores: scores.buffer(member: member), into: s.attention + start * a + head * d)
            }
        }
    }
}
