import COpenBLAS

/// The activations one block saves in the forward pass for the backward pass, `rows` rows each.
struct SavedBlock {
    /// The residual stream entering the block `[rows, hidden]`.
    let input: UnsafeMutablePointer<Float>
    /// `1/RMS` of `input` (the attention norm's factor) `[rows]`.
    let attentionScale: UnsafeMutablePointer<Float>
    /// Queries and keys after rotation, values `[rows, heads · d]`, `[rows, kvHeads · d]`.
    let queries: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// Attention output, the input of `o_proj` `[rows, heads · d]`.
    let attention: UnsafeMutablePointer<Float>
    /// The residual stream after the attention sublayer `[rows, hidden]`.
    let middle: UnsafeMutablePointer<Float>
    /// `1/RMS` of `middle` (the feed-forward norm's factor) `[rows]`.
    let feedForwardScale: UnsafeMutablePointer<Float>
    /// Gate and up projections before SwiGLU `[rows, intermediate]`.
    let gate: UnsafeMutablePointer<Float>
    let up: UnsafeMutablePointer<Float>

    /// Floats one block saves for `rows` rows.
    static func floats(_ c: LlamaConfiguration, rows n: Int) -> Int {
        let (a, kv) = (c.headCount * c.headDimension, c.kvHeadCount * c.headDimension)
        return n * (2 * c.hiddenSize + 2 + 2 * a + 2 * kv + 2 * c.intermediateSize)
    }

    /// A block of `rows` rows whose buffers `take(count)` carves in turn (`floats` in all).
    static func carve(_ c: LlamaConfiguration, rows n: Int, _ take: (Int) -> UnsafeMutablePointer<Float>) -> SavedBlock {
        let (h, i, a, kv) = (c.hiddenSize, c.intermediateSize, c.headCount * c.headDimension, c.kvHeadCount * c.headDimension)
        return SavedBlock(
            input: take(n * h), attentionScale: take(n), queries: take(n * a), keys: take(n * kv), values: take(n * kv),
            attention: take(n * a), middle: take(n * h), feedForwardScale: take(n), gate: take(n * i), up: take(n * i))
    }
}

/// Rows whose LoRA gradient is summed together, and the targets their mean loss is over: the
/// whole batch, or one sequence.
struct GradientGroup {
    let rows: Range<Int>
    let targetCount: Int
}

/// One batch's forward and backward pass over memory carved from the engine's arena (see
/// `GradientEngine` for what is saved and what recomputed).
struct TrainingPass {
    let engine: GradientEngine
    let c: LlamaConfiguration
    let parameters: LoRAParameters
    let rows: Int
    let tokens: [Int32]
    /// Each row's position in its sequence.
    let positions: [Int]
    /// The first row and length of each sequence that has rows (one with no targets has none).
    let sequences: [(start: Int, length: Int)]
    /// Rows whose prediction the loss counts, with the token they predict and their group, in row order.
    let targets: [(row: Int, token: Int, group: Int)]
    /// One gradient (and loss) per group, each `parameters.values.count` floats.
    let groups: [GradientGroup]
    let saved: [SavedBlock]
    /// Whether `saved` and `finalInput` were filled by an inference engine's forward pass.
    let recorded: Bool
    /// The residual stream after the last block, and its final norm's factor.
    let finalInput: UnsafeMutablePointer<Float>
    let finalScale: UnsafeMutablePointer<Float>
    /// Per module (index into `parameters.modules`): `x·Aᵀ` saved by the forward pass `[rows, rank]`.
    let inner: [UnsafeMutablePointer<Float>]
    /// Module index per `layer · 7 + projection.index`, or −1.
    let slots: [Int]
    // Working buffers.
    let normed, sublayer, activation, activationGradient, residualGradient, normedGradient: UnsafeMutablePointer<Float>
    let attentionGradient, queryGradient, keyGradient, valueGradient, innerGradient: UnsafeMutablePointer<Float>
    let logits, logitInputs, logitInputGradients: UnsafeMutablePointer<Float>
    /// Rotary cos, sin and −sin per position `[longest, d/2]`.
    let cos, sin, negatedSin: UnsafeMutablePointer<Float>
    let longest: Int

    var attentionWidth: Int { c.headCount * c.headDimension }
    var kvWidth: Int { c.kvHeadCount * c.headDimension }

    /// Rows of `sequence` the pass runs: every token that predicts a target. The last token
    /// predicts nothing, and no earlier row attends to it, so it is left out; a sequence
    /// without targets needs no rows at all.
    static func rowsNeeded(_ sequence: TrainingSequence) -> Int {
        sequence.targetCount > 0 ? sequence.tokens.count - 1 : 0
    }

    /// Floats of arena a batch needs; with a `recorded` forward pass, the saved blocks and
    /// the final residual live in the record instead.
    static func floatsNeeded(_ batch: [TrainingSequence], _ parameters: LoRAParameters, recorded: Bool = false) -> Int {
        let c = parameters.configuration
        let n = batch.reduce(0) { $0 + rowsNeeded($1) }, longest = batch.map(rowsNeeded).max() ?? 0
        let (h, i, a, kv) = (c.hiddenSize, c.intermediateSize, c.headCount * c.headDimension, c.kvHeadCount * c.headDimension)
        let saved = recorded ? 0 : c.layerCount * SavedBlock.floats(c, rows: n) + n * h
        let inner = n * parameters.modules.reduce(0) { $0 + $1.rank }
        let rankMax = parameters.modules.map(\.rank).max() ?? 0
        let working = n * (5 * h + 2 * i + 2 * a + 2 * kv + rankMax)
        let logitChunk = GradientEngine.logitChunkRows * (c.vocabularySize + 2 * h)
        return saved + inner + n + working + logitChunk + 3 * longest * c.headDimension / 2
    }

    /// A pass over `batch`, its working memory carved from `arena`; with `recorded`, the
    /// forward pass's activations are that record's (`run` then skips the forward pass).
    init(engine: GradientEngine, batch: [TrainingSequence], parameters: LoRAParameters, perSequence: Bool, recorded: ForwardRecord?,
         arena: UnsafeMutablePointer<Float>) {
        let c = engine.configuration
        self.engine = engine
        self.c = c
        self.parameters = parameters
        var tokens: [Int32] = [], positions: [Int] = [], sequences: [(Int, Int)] = [], targets: [(Int, Int, Int)] = []
        var sequenceRows: [Range<Int>] = []
        for (index, sequence) in batch.enumerated() {
            let start = tokens.count, length = Self.rowsNeeded(sequence)
            sequenceRows.append(start..<(start + length))
            if length > 0 { sequences.append((start, length)) }
            for position in 0..<length {
                tokens.append(sequence.tokens[position])
                positions.append(position)
                if position + 1 >= sequence.firstTarget {
                    targets.append((start + position, Int(sequence.tokens[position + 1]), perSequence ? index : 0))
                }
            }
        }
        groups = perSequence
            ? zip(sequenceRows, batch).map { GradientGroup(rows: $0, targetCount: $1.targetCount) }
            : [GradientGroup(rows: 0..<tokens.count, targetCount: targets.count)]
        self.tokens = tokens
        self.positions = positions
        self.sequences = sequences
        self.targets = targets
        let n = tokens.count
        rows = n
        longest = batch.map(Self.rowsNeeded).max()!
        let (h, i, a, kv) = (c.hiddenSize, c.intermediateSize, c.headCount * c.headDimension, c.kvHeadCount * c.headDimension)
        var cursor = arena
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { cursor += count }
            return cursor
        }
        self.recorded = recorded != nil
        if let recorded {
            precondition(n <= recorded.rowsMax, "the record holds \(recorded.rowsMax) rows, the pass needs \(n)")
            saved = recorded.blocks
            finalInput = recorded.finalInput
        } else {
            saved = (0..<c.layerCount).map { _ in SavedBlock.carve(c, rows: n, take) }
            finalInput = take(n * h)
        }
        inner = parameters.modules.map { take(n * $0.rank) }
        var slots = [Int](repeating: -1, count: c.layerCount * Projection.allCases.count)
        for (index, module) in parameters.modules.enumerated() { slots[module.layer * Projection.allCases.count + module.projection.index] = index }
        self.slots = slots
        finalScale = take(n)
        normed = take(n * h)
        sublayer = take(n * h)
        residualGradient = take(n * h)
        normedGradient = take(n * h)
        logitInputs = take(GradientEngine.logitChunkRows * h)
        logitInputGradients = take(GradientEngine.logitChunkRows * h)
        activation = take(n * i)
        activationGradient = take(n * i)
        attentionGradient = take(n * a)
        queryGradient = take(n * a)
        keyGradient = take(n * kv)
        valueGradient = take(n * kv)
        innerGradient = take(n * (parameters.modules.map(\.rank).max() ?? 0))
        logits = take(GradientEngine.logitChunkRows * c.vocabularySize)
        let half = c.headDimension / 2
        cos = take(longest * half)
        sin = take(longest * half)
        negatedSin = take(longest * half)
        assert(cursor - arena <= Self.floatsNeeded(batch, parameters, recorded: recorded != nil), "training pass overran its arena")
        for position in 0..<longest {
            Layers.ropeAngles(position: position, headDimension: c.headDimension, base: c.ropeBase, cos: cos + position * half, sin: sin + position * half)
            for k in 0..<half { negatedSin[position * half + k] = -sin[position * half + k] }
        }
    }

    /// Runs the forward pass, the loss and the backward pass; writes each group's gradient
    /// (one after the other) and returns each group's mean loss.
    func run(values: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>) -> [Double] {
        if recorded { lowRankInputs(values) } else { forward(values) }
        let losses = lossAndOutputGradient()
        for layer in (0..<c.layerCount).reversed() { backward(layer: layer, values: values, gradients: gradients) }
        return losses
    }

    func module(_ layer: Int, _ projection: Projection) -> Int? {
        let slot = slots[layer * Projection.allCases.count + projection.index]
        return slot < 0 ? nil : slot
    }
}
