import Dispatch

extension InferenceEngine {
    /// Runs `rows` through the model, writing their keys and values into their caches, and
    /// returns the logits of the rows listed in `logitRows`.
    func forward(_ rows: [ForwardRow], logitRows: [Int]) -> [[Float]] {
        let c = configuration
        let n = rows.count
        let d = c.headDimension, attentionWidth = c.headCount * d, kvWidth = c.kvHeadCount * d
        buffers.reserve(rows: n, configuration: c)
        adapterWork.plan(rows)
        defer { adapterWork.finish() }
        let tunes = !adapterWork.segments.isEmpty && MatrixMultiply.prefetches(batch: n, activations: activations)
        prefetchesFactors = tunes && prefetchTuner.prefetchesNextPass
        let start = DispatchTime.now().uptimeNanoseconds
        let b = buffers
        let recording = PassRecording(rows)
        for (index, row) in rows.enumerated() {
            model.weights.embedding.dequantize(rows: Int(row.token)..<Int(row.token) + 1, into: b.residual + index * c.hiddenSize)
            Layers.ropeAngles(position: row.position, headDimension: d, base: c.ropeBase, cos: b.cos + index * d / 2, sin: b.sin + index * d / 2)
            row.cache.reserve(row.position + 1)
        }
        for (layerIndex, layer) in model.weights.layers.enumerated() {
            recording.keep(\.input, layer: layerIndex, from: b.residual, width: c.hiddenSize)
            layer.attentionNorm.withUnsafeBufferPointer { weight in
                forEachRow(n) { r in
                    let scale = Layers.rmsNorm(b.residual + r * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: b.normed + r * c.hiddenSize)
                    recording.keep(\.attentionScale, layer: layerIndex, row: r, scale: scale)
                }
            }
            project([(.query, b.normed, b.queries), (.key, b.normed, b.keys), (.value, b.normed, b.values)], layer: layerIndex, rows: n)
            forEachRow(n) { r in
                let row = rows[r], cos = b.cos + r * d / 2, sin = b.sin + r * d / 2
                Layers.rope(b.queries + r * attentionWidth, heads: c.headCount, headDimension: d, cos: cos, sin: sin, layout: c.ropeLayout)
                Layers.rope(b.keys + r * kvWidth, heads: c.kvHeadCount, headDimension: d, cos: cos, sin: sin, layout: c.ropeLayout)
                for head in 0..<c.kvHeadCount {
                    row.cache.store(b.keys + r * kvWidth + head * d, into: row.cache.keys(layer: layerIndex, kvHead: head), position: row.position)
                    row.cache.store(b.values + r * kvWidth + head * d, into: row.cache.values(layer: layerIndex, kvHead: head), position: row.position)
                }
            }
            recording.keep(\.queries, layer: layerIndex, from: b.queries, width: attentionWidth)
            recording.keep(\.keys, layer: layerIndex, from: b.keys, width: kvWidth)
            recording.keep(\.values, layer: layerIndex, from: b.values, width: kvWidth)
            attend(rows, layer: layerIndex)
            recording.keep(\.attention, layer: layerIndex, from: b.attention, width: attentionWidth)
            project([(.output, b.attention, b.sublayer)], layer: layerIndex, rows: n)
            addToResidual(n)
            recording.keep(\.middle, layer: layerIndex, from: b.residual, width: c.hiddenSize)
            layer.feedForwardNorm.withUnsafeBufferPointer { weight in
                forEachRow(n) { r in
                    let scale = Layers.rmsNorm(b.residual + r * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: b.normed + r * c.hiddenSize)
                    recording.keep(\.feedForwardScale, layer: layerIndex, row: r, scale: scale)
                }
            }
            project([(.gate, b.normed, b.gate), (.up, b.normed, b.up)], layer: layerIndex, rows: n)
            recording.keep(\.gate, layer: layerIndex, from: b.gate, width: c.intermediateSize)
            recording.keep(\.up, layer: layerIndex, from: b.up, width: c.intermediateSize)
            forEachSlice(n * c.intermediateSize) { range in
                Layers.swiGLU(b.gate + range.lowerBound, up: b.up + range.lowerBound, count: range.count)
            }
            project([(.down, b.gate, b.sublayer)], layer: layerIndex, rows: n)
            addToResidual(n)
        }
        recording.keepFinal(from: b.residual, width: c.hiddenSize)
        for row in rows { row.cache.length = max(row.cache.length, row.position + 1) }
        let logits = logits(ofRows: logitRows)
        if tunes { prefetchTuner.record(rows: n, nanoseconds: DispatchTime.now().uptimeNanoseconds - start) }
        return logits
    }

    /// Applies some of block `layer`'s projections to `rows` activation rows:
    /// `y = x · Wᵀ + scale·(x·Aᵀ)·Bᵀ` with `x` and `y` packed at the projection's input and
    /// output widths, and `A`, `B`, `scale` those of the row's adapter (no term for rows
    /// without one). Every linear map of a block goes through here.
    private func project(_ maps: [(Projection, from: UnsafeMutablePointer<Float>, to: UnsafeMutablePointer<Float>)], layer: Int, rows: Int) {
        let weights = model.weights.layers[layer]
        let products = maps.map { projection, x, y in
            let weights = weights.matrix(projection)
            return MatrixProduct(weights: weights, x: UnsafePointer(x), xStride: weights.columns, y: y, yStride: weights.rows)
        }
        MatrixMultiply.run(
            products, batch: rows, pool: pool, scratch: scratch, activations: activations, int8Tiles: int8Tiles,
            prefetch: prefetchesFactors ? adapterFactors(maps.map(\.0), layer: layer) : .none)
        addAdapterDeltas(maps, layer: layer)
    }

    private func addToResidual(_ n: Int) {
        let b = buffers
        forEachSlice(n * configuration.hiddenSize) { range in
            for i in range { b.residual[i] += b.sublayer[i] }
        }
    }

    /// Runs `body` on slices of `0..<count` (multiples of 8 long, but the last) spread over
    /// the pool; on the calling thread alone when `count` is below `sliceParallelMin`.
    private func forEachSlice(_ count: Int, _ body: (Range<Int>) -> Void) {
        guard count >= Self.sliceParallelMin, pool.threadCount > 1 else { return body(0..<count) }
        let slice = (count / (2 * pool.threadCount) + 7) / 8 * 8
        pool.forEachChunk(count, chunk: slice) { _, range in body(range) }
    }

    /// Runs `body(row)` for every row of `0..<count`, spread over the pool in a few chunks
    /// per thread once there are `rowParallelMin` rows (fewer are not worth waking the helpers).
    private func forEachRow(_ count: Int, _ body: (Int) -> Void) {
        guard count >= Self.rowParallelMin, pool.threadCount > 1 else {
            for row in 0..<count { body(row) }
            return
        }
        pool.forEachChunk(count, chunk: max(1, count / (4 * pool.threadCount))) { _, range in
            for row in range { body(row) }
        }
    }

    /// Rows from which per-row work (norms, rotary embedding) is spread over the pool.
    static let rowParallelMin = 8

    /// Elements from which element-wise work is spread over the pool (below it, waking the
    /// helpers costs more than the work).
    static let sliceParallelMin = 8192

    /// Attention of every row's query heads over its own sequence. Rows that continue the
    /// same sequence (a prompt) are handled in blocks per query head as matrix products;
    /// single rows (decode) per key/value head. Items go to whichever thread is free.
    private func attend(_ rows: [ForwardRow], layer: Int) {
        let c = configuration, b = buffers
        let d = c.headDimension, group = c.groupSize, attentionWidth = c.headCount * d
        var items: [AttentionItem] = []
        var scoresNeeded = 0
        var start = 0
        while start < rows.count {
            var end = start + 1
            while end < rows.count, rows[end].cache === rows[start].cache, rows[end].position == rows[end - 1].position + 1 { end += 1 }
            if end - start == 1 {
                items += (0..<c.kvHeadCount).map { AttentionItem.single(row: start, kvHead: $0) }
                scoresNeeded = max(scoresNeeded, rows[start].position + 1)
            } else {
                for blockStart in stride(from: start, to: end, by: Self.attentionBlockRows) {
                    let count = min(Self.attentionBlockRows, end - blockStart), length = rows[blockStart].position + count
                    items += (0..<c.headCount).map { AttentionItem.block(start: blockStart, count: count, head: $0) }
                    // Half-precision keys and values are widened after the scores for sgemm.
                    let widened = rows[blockStart].cache.precision == .float32 ? 0 : 2 * length * d
                    scoresNeeded = max(scoresNeeded, count * length + widened)
                }
            }
            start = end
        }
        attentionScores.reserve(floats: scoresNeeded)
        let scoresBuffers = attentionScores
        pool.forEachChunk(items.count, chunk: 1) { member, range in
            let scores = scoresBuffers.buffer(member: member)
            for item in items[range] {
                switch item {
                case let .single(r, kvHead):
                    let row = rows[r]
                    let offset = r * attentionWidth + kvHead * group * d
                    let keys = row.cache.keys(layer: layer, kvHead: kvHead), values = row.cache.values(layer: layer, kvHead: kvHead)
                    switch row.cache.precision {
                    case .float32:
                        Layers.attention(StoredF32.self, queries: b.queries + offset, heads: group, headDimension: d, keys: keys, values: values,
                                         length: row.position + 1, scores: scores, into: b.attention + offset)
                    case .float16:
                        Layers.attention(StoredF16.self, queries: b.queries + offset, heads: group, headDimension: d, keys: keys, values: values,
                                         length: row.position + 1, scores: scores, into: b.attention + offset)
                    }
                case let .block(first, count, head):
                    let row = rows[first]
                    let offset = first * attentionWidth + head * d, length = row.position + count
                    let storedKeys = row.cache.keys(layer: layer, kvHead: head / group), storedValues = row.cache.values(layer: layer, kvHead: head / group)
                    let keys: UnsafePointer<Float>, values: UnsafePointer<Float>
                    switch row.cache.precision {
                    case .float32:
                        keys = UnsafePointer(storedKeys.assumingMemoryBound(to: Float.self))
                        values = UnsafePointer(storedValues.assumingMemoryBound(to: Float.self))
                    case .float16:
                        let wideKeys = scores + count * length
                        keys = UnsafePointer(StoredF16.widen(storedKeys, count: length * d, into: wideKeys))
                        values = UnsafePointer(StoredF16.widen(storedValues, count: length * d, into: wideKeys + length * d))
                    }
                    Layers.attentionBlock(
                        queries: b.queries + offset, stride: attentionWidth, rows: count, first: row.position, headDimension: d,
                        keys: keys, values: values, kvStride: d, scores: scores, into: b.attention + offset)
                }
            }
        }
    }

    /// Rows of one sequence whose attention is one pair of matrix products.
    static let attentionBlockRows = 64

    /// Final norm and output head for the listed rows.
    private func logits(ofRows logitRows: [Int]) -> [[Float]] {
        guard !logitRows.isEmpty else { return [] }
        let c = configuration, m = logitRows.count
        buffers.reserve(logitRows: m, configuration: c)
        let b = buffers, normed = b.finalNormed, output = b.logits
        model.weights.outputNorm.withUnsafeBufferPointer { weight in
            for (index, row) in logitRows.enumerated() {
                Layers.rmsNorm(b.residual + row * c.hiddenSize, weight: weight.baseAddress!, epsilon: c.rmsNormEpsilon, count: c.hiddenSize, into: normed + index * c.hiddenSize)
            }
        }
        let head = model.weights.head
        MatrixMultiply.run([MatrixProduct(weights: head, x: normed, xStride: head.columns, y: output, yStride: head.rows)], batch: m, pool: pool, scratch: scratch, activations: activations, int8Tiles: int8Tiles)
        return (0..<m).map { Array(UnsafeBufferPointer(start: output + $0 * c.vocabularySize, count: c.vocabularySize)) }
    }
}

/// One unit of attention work.
enum AttentionItem {
    /// One row, the query heads sharing key/value head `kvHead`.
    case single(row: Int, kvHead: Int)
    /// `count` consecutive rows of one sequence from row `start`, query head `head`.
    case block(start: Int, count: Int, head: Int)
}
