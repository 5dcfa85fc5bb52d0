extension InferenceEngine {
    /// Runs `rows` through the model, writing their keys and values into their caches, and
    /// returns the logits of the rows listed in `logitRows`.
    func forward(_ rows: [ForwardRow], logitRows: [Int]) -> [[Float]] {
        let c = configuration
        let n = rows.count
        let d = c.headDimension, attentionWidth = c.headCount * d, kvWidth = c.kvHeadCount * d
        buffers.reserve(rows: n, configuration: c)
        let b = buffers
        for (index, row) in rows.enumerated() {
            model.weights.embedding.dequantize(rows: Int(row.token)..<Int(row.token) + 1, into: b.residual + index * c.hiddenSize)
            Layers.ropeAngles(position: row.position, headDimension: d, base: c.ropeBase, cos: b.cos + index * d / 2, sin: b.sin + index * d / 2)
            row.cache.reserve(row.position + 1)
        }
        for (layerIndex, layer) in model.weights.layers.enumerated() {
            layer.attentionNorm.withUnsafeBufferPointer { weight in
                for r in 0..<n {
                    Layers.rmsNorm(b.residual + r * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: b.normed + r * c.hiddenSize)
                }
            }
            multiply([
                product(layer.query, b.normed, c.hiddenSize, b.queries, attentionWidth),
                product(layer.key, b.normed, c.hiddenSize, b.keys, kvWidth),
                product(layer.value, b.normed, c.hiddenSize, b.values, kvWidth),
            ], rows: n)
            for (r, row) in rows.enumerated() {
                let cos = b.cos + r * d / 2, sin = b.sin + r * d / 2
                Layers.rope(b.queries + r * attentionWidth, heads: c.headCount, headDimension: d, cos: cos, sin: sin, layout: c.ropeLayout)
                Layers.rope(b.keys + r * kvWidth, heads: c.kvHeadCount, headDimension: d, cos: cos, sin: sin, layout: c.ropeLayout)
                for head in 0..<c.kvHeadCount {
                    (row.cache.keys(layer: layerIndex, kvHead: head) + row.position * d).update(from: b.keys + r * kvWidth + head * d, count: d)
                    (row.cache.values(layer: layerIndex, kvHead: head) + row.position * d).update(from: b.values + r * kvWidth + head * d, count: d)
                }
            }
            attend(rows, layer: layerIndex)
            multiply([product(layer.output, b.attention, attentionWidth, b.sublayer, c.hiddenSize)], rows: n)
            addToResidual(n)
            layer.feedForwardNorm.withUnsafeBufferPointer { weight in
                for r in 0..<n {
                    Layers.rmsNorm(b.residual + r * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: b.normed + r * c.hiddenSize)
                }
            }
            multiply([
                product(layer.gate, b.normed, c.hiddenSize, b.gate, c.intermediateSize),
                product(layer.up, b.normed, c.hiddenSize, b.up, c.intermediateSize),
            ], rows: n)
            Layers.swiGLU(b.gate, up: b.up, count: n * c.intermediateSize)
            multiply([product(layer.down, b.gate, c.intermediateSize, b.sublayer, c.hiddenSize)], rows: n)
            addToResidual(n)
        }
        for row in rows { row.cache.length = max(row.cache.length, row.position + 1) }
        return logits(ofRows: logitRows)
    }

    private func product(_ weights: WeightMatrix, _ x: UnsafePointer<Float>, _ xStride: Int, _ y: UnsafeMutablePointer<Float>, _ yStride: Int) -> MatrixProduct {
        MatrixProduct(weights: weights, x: x, xStride: xStride, y: y, yStride: yStride)
    }

    private func multiply(_ products: [MatrixProduct], rows: Int) {
        MatrixMultiply.run(products, batch: rows, pool: pool, scratch: scratch)
    }

    private func addToResidual(_ n: Int) {
        let b = buffers
        for i in 0..<(n * configuration.hiddenSize) { b.residual[i] += b.sublayer[i] }
    }

    /// Attention of every row's query heads over its own sequence, one (row, key/value
    /// head) pair per work item, items handed to whichever thread is free.
    private func attend(_ rows: [ForwardRow], layer: Int) {
        let c = configuration, b = buffers
        let d = c.headDimension, group = c.groupSize, attentionWidth = c.headCount * d
        attentionScores.reserve(positions: rows.map(\.position).max()! + 1)
        let scoresBuffers = attentionScores
        pool.forEachChunk(rows.count * c.kvHeadCount, chunk: 1) { member, items in
            for item in items {
                let (r, kvHead) = item.quotientAndRemainder(dividingBy: c.kvHeadCount)
                let row = rows[r]
                let offset = r * attentionWidth + kvHead * group * d
                Layers.attention(
                    queries: b.queries + offset, heads: group, headDimension: d,
                    keys: row.cache.keys(layer: layer, kvHead: kvHead), values: row.cache.values(layer: layer, kvHead: kvHead),
                    length: row.position + 1, scores: scoresBuffers.buffer(member: member), into: b.attention + offset)
            }
        }
    }

    /// Final norm and output head for the listed rows.
    private func logits(ofRows logitRows: [Int]) -> [[Float]] {
        guard !logitRows.isEmpty else { return [] }
        let c = configuration, b = buffers
        let m = logitRows.count
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: m * c.hiddenSize)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: m * c.vocabularySize)
        defer { normed.deallocate(); output.deallocate() }
        model.weights.outputNorm.withUnsafeBufferPointer { weight in
            for (index, row) in logitRows.enumerated() {
                Layers.rmsNorm(b.residual + row * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: normed + index * c.hiddenSize)
            }
        }
        multiply([product(model.weights.head, normed, c.hiddenSize, output, c.vocabularySize)], rows: m)
        return (0..<m).map { Array(UnsafeBufferPointer(start: output + $0 * c.vocabularySize, count: c.vocabularySize)) }
    }
}
