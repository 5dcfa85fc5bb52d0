import COpenBLAS

extension TrainingPass {
    /// The final norm, the logits `GradientEngine.logitChunkRows` target rows at a time, each
    /// group's mean cross-entropy over its targets, and `∂(Σ group losses)/∂finalInput` into
    /// `residualGradient`. Returns the groups' mean losses.
    func lossAndOutputGradient() -> [Double] {
        let h = c.hiddenSize, vocabulary = c.vocabularySize, head = engine.model.weights.head
        normalize(finalInput, weight: engine.model.weights.outputNorm, scales: finalScale, into: normed)
        normedGradient.initialize(repeating: 0, count: rows * h)
        let weights = groups.map { 1 / Float(max(1, $0.targetCount)) }
        var totals = [Double](repeating: 0, count: groups.count)
        for chunkStart in stride(from: 0, to: targets.count, by: GradientEngine.logitChunkRows) {
            let chunk = targets[chunkStart..<min(targets.count, chunkStart + GradientEngine.logitChunkRows)]
            for (index, target) in chunk.enumerated() { (logitInputs + index * h).update(from: normed + target.row * h, count: h) }
            MatrixMultiply.run(
                [MatrixProduct(weights: head, x: logitInputs, xStride: h, y: logits, yStride: vocabulary)],
                batch: chunk.count, pool: engine.pool, scratch: engine.scratch)
            var losses = [Double](repeating: 0, count: chunk.count)
            losses.withUnsafeMutableBufferPointer { losses in
                engine.forEachRowChunk(chunk.count) { range in
                    for index in range {
                        let target = chunk[chunkStart + index]
                        losses[index] = TrainingKernels.crossEntropy(logits + index * vocabulary, count: vocabulary, target: target.token, weight: weights[target.group])
                    }
                }
            }
            for (index, target) in chunk.enumerated() { totals[target.group] += losses[index] }
            MatrixMultiply.runTransposed(
                [TransposedTerm(weights: head, dy: logits, dyStride: vocabulary)], batch: chunk.count,
                into: logitInputGradients, dxStride: h, pool: engine.pool, scratch: engine.scratch)
            for (index, target) in chunk.enumerated() { (normedGradient + target.row * h).update(from: logitInputGradients + index * h, count: h) }
        }
        residualGradient.initialize(repeating: 0, count: rows * h)
        normBackward(x: finalInput, weight: engine.model.weights.outputNorm, scales: finalScale)
        return zip(totals, groups).map { $1.targetCount > 0 ? $0 / Double($1.targetCount) : 0 }
    }

    /// One block backward: `residualGradient` holds `∂loss/∂(block output)` and leaves
    /// holding `∂loss/∂(block input)`; the block's LoRA gradients go into each group's part of `gradients`.
    func backward(layer: Int, values: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        let s = saved[layer], block = engine.model.weights.layers[layer]
        let h = c.hiddenSize, i = c.intermediateSize, d = c.headDimension, a = attentionWidth, kv = kvWidth
        let pool = engine.pool, scratch = engine.scratch

        // Feed-forward sublayer: output = middle + down(silu(gate) · up).
        swiGLU(s, into: activation)
        MatrixMultiply.runTransposed(
            [TransposedTerm(weights: block.down, dy: residualGradient, dyStride: h)], batch: rows,
            into: activationGradient, dxStride: i, pool: pool, scratch: scratch)
        loraBackward(layer, .down, x: activation, dy: residualGradient, dx: activationGradient, values: values, gradients: gradients)
        // activation ← ∂/∂gate, activationGradient ← ∂/∂up.
        engine.forEachRowChunk(rows) { range in
            let start = range.lowerBound * i
            TrainingKernels.swiGLUBackward(
                activationGradient + start, gate: s.gate + start, up: s.up + start, gateGradient: activation + start, count: range.count * i)
        }
        renormalize(s.middle, weight: block.feedForwardNorm, scales: s.feedForwardScale, into: normed)
        MatrixMultiply.runTransposed(
            [TransposedTerm(weights: block.gate, dy: activation, dyStride: i), TransposedTerm(weights: block.up, dy: activationGradient, dyStride: i)],
            batch: rows, into: normedGradient, dxStride: h, pool: pool, scratch: scratch)
        loraBackward(layer, .gate, x: normed, dy: activation, dx: normedGradient, values: values, gradients: gradients)
        loraBackward(layer, .up, x: normed, dy: activationGradient, dx: normedGradient, values: values, gradients: gradients)
        normBackward(x: s.middle, weight: block.feedForwardNorm, scales: s.feedForwardScale)

        // Attention sublayer: middle = input + o_proj(attention(rope(q), rope(k), v)).
        MatrixMultiply.runTransposed(
            [TransposedTerm(weights: block.output, dy: residualGradient, dyStride: h)], batch: rows,
            into: attentionGradient, dxStride: a, pool: pool, scratch: scratch)
        loraBackward(layer, .output, x: s.attention, dy: residualGradient, dx: attentionGradient, values: values, gradients: gradients)
        attendBackward(s)
        engine.forEachRowChunk(rows) { range in
            for r in range {
                // A rotation's transpose is the rotation by −θ.
                let angle = positions[r] * d / 2
                Layers.rope(queryGradient + r * a, heads: c.headCount, headDimension: d, cos: cos + angle, sin: negatedSin + angle, layout: c.ropeLayout)
                Layers.rope(keyGradient + r * kv, heads: c.kvHeadCount, headDimension: d, cos: cos + angle, sin: negatedSin + angle, layout: c.ropeLayout)
            }
        }
        renormalize(s.input, weight: block.attentionNorm, scales: s.attentionScale, into: normed)
        MatrixMultiply.runTransposed(
            [TransposedTerm(weights: block.query, dy: queryGradient, dyStride: a), TransposedTerm(weights: block.key, dy: keyGradient, dyStride: kv),
             TransposedTerm(weights: block.value, dy: valueGradient, dyStride: kv)],
            batch: rows, into: normedGradient, dxStride: h, pool: pool, scratch: scratch)
        loraBackward(layer, .query, x: normed, dy: queryGradient, dx: normedGradient, values: values, gradients: gradients)
        loraBackward(layer, .key, x: normed, dy: keyGradient, dx: normedGradient, values: values, gradients: gradients)
        loraBackward(layer, .value, x: normed, dy: valueGradient, dx: normedGradient, values: values, gradients: gradients)
        normBackward(x: s.input, weight: block.attentionNorm, scales: s.attentionScale)
    }

    /// Adds the gradient through an RMSNorm of `x` (given `∂/∂output` in `normedGradient`) to `residualGradient`.
    func normBackward(x: UnsafePointer<Float>, weight: [Float], scales: UnsafePointer<Float>) {
        let h = c.hiddenSize
        weight.withUnsafeBufferPointer { weight in
            engine.forEachRowChunk(rows) { range in
                for r in range {
                    TrainingKernels.rmsNormBackward(
                        normedGradient + r * h, x: x + r * h, scale: scales[r], weight: weight.baseAddress!, count: h, addingInto: residualGradient + r * h)
                }
            }
        }
    }

    /// `∂/∂queries`, keys and values from `∂/∂attention`, one (sequence, key/value head) per work item.
    func attendBackward(_ s: SavedBlock) {
        let d = c.headDimension, a = attentionWidth, kv = kvWidth, group = c.groupSize
        engine.attentionScratch.reserve(floats: 2 * longest * longest)  // probabilities and their gradient
        let items = sequences.count * c.kvHeadCount, scores = engine.attentionScratch
        engine.pool.forEachChunk(items, chunk: 1) { member, range in
            for item in range {
                let (start, length) = sequences[item / c.kvHeadCount]
                let kvHead = item % c.kvHeadCount, queryOffset = start * a + kvHead * group * d, kvOffset = start * kv + kvHead * d
                TrainingKernels.attentionBackward(
                    queries: s.queries + queryOffset, keys: s.keys + kvOffset, values: s.values + kvOffset, outputs: s.attention + queryOffset,
                    outputGradients: attentionGradient + queryOffset, length: length, group: group, headDimension: d, stride: a, kvStride: kv,
                    scratch: scores.buffer(member: member),
                    dQ: queryGradient + queryOffset, dK: keyGradient + kvOffset, dV: valueGradient + kvOffset)
            }
        }
    }

    /// The LoRA module of `projection` in `layer`, if any, backward. Forward: `u = x·Aᵀ`,
    /// `y += s·u·Bᵀ`. Given `dy`: `∂B = s·dyᵀ·u`, `du = s·dy·B`, `∂A = duᵀ·x` (each summed over
    /// one group's rows, into that group's gradient), and `dx += du·A`. Each sum is split
    /// across threads by its own rows or columns, so every element is summed in one piece.
    func loraBackward(
        _ layer: Int, _ projection: Projection, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
        values: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
    ) {
        guard let index = module(layer, projection) else { return }
        let m = parameters.modules[index], u = UnsafePointer(inner[index]), du = innerGradient
        let (r, inputs, outputs) = (Int32(m.rank), Int32(m.inputs), Int32(m.outputs))
        let stride = parameters.values.count, chunk = 64
        let outputChunks = (m.outputs + chunk - 1) / chunk, inputChunks = (m.inputs + chunk - 1) / chunk
        engine.pool.forEachChunk(groups.count * outputChunks, chunk: 1) { _, items in
            for item in items {
                let group = groups[item / outputChunks], first = item % outputChunks * chunk, count = min(chunk, m.outputs - first)
                let rows = group.rows
                guard !rows.isEmpty else { continue }  // no rows: its gradient stays zero
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(count), r, Int32(rows.count), m.scale,
                            dy + rows.lowerBound * m.outputs + first, outputs, u + rows.lowerBound * m.rank, r,
                            0, gradients + (item / outputChunks) * stride + m.bOffset + first * m.rank, r)
            }
        }
        engine.forEachRowChunk(rows) { range in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(range.count), r, outputs, m.scale,
                        dy + range.lowerBound * m.outputs, outputs, values + m.bOffset, r, 0, du + range.lowerBound * m.rank, r)
        }
        engine.pool.forEachChunk(groups.count * inputChunks, chunk: 1) { _, items in
            for item in items {
                let group = groups[item / inputChunks], first = item % inputChunks * chunk, count = min(chunk, m.inputs - first)
                let rows = group.rows
                guard !rows.isEmpty else { continue }  // no rows: its gradient stays zero
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, Int32(count), Int32(rows.count), 1,
                            du + rows.lowerBound * m.rank, r, x + rows.lowerBound * m.inputs + first, inputs,
                            0, gradients + (item / inputChunks) * stride + m.aOffset + first, inputs)
            }
        }
        engine.forEachRowChunk(rows) { range in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(range.count), inputs, r, 1,
                        du + range.lowerBound * m.rank, r, values + m.aOffset, inputs, 1, dx + range.lowerBound * m.inputs, inputs)
        }
    }
}
