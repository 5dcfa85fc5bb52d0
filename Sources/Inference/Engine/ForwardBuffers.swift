/// Activation buffers of a forward pass, reused across passes and grown on demand.
struct ForwardBuffers {
    private(set) var rows = 0
    private var storage: [UnsafeMutablePointer<Float>] = []

    /// Residual stream `[rows, hidden]`.
    var residual: UnsafeMutablePointer<Float> { storage[0] }
    /// Normalised input of a sublayer `[rows, hidden]`.
    var normed: UnsafeMutablePointer<Float> { storage[1] }
    /// Queries, then attention output `[rows, heads · headDimension]`.
    var queries: UnsafeMutablePointer<Float> { storage[2] }
    var keys: UnsafeMutablePointer<Float> { storage[3] }
    var values: UnsafeMutablePointer<Float> { storage[4] }
    var attention: UnsafeMutablePointer<Float> { storage[5] }
    /// Output of a sublayer before it joins the residual `[rows, hidden]`.
    var sublayer: UnsafeMutablePointer<Float> { storage[6] }
    var gate: UnsafeMutablePointer<Float> { storage[7] }
    var up: UnsafeMutablePointer<Float> { storage[8] }
    /// Rotary cos and sin per row `[rows, headDimension / 2]`.
    var cos: UnsafeMutablePointer<Float> { storage[9] }
    var sin: UnsafeMutablePointer<Float> { storage[10] }

    /// Ensures room for `rows` rows of `configuration`'s activations.
    mutating func reserve(rows: Int, configuration c: LlamaConfiguration) {
        guard rows > self.rows else { return }
        storage.forEach { $0.deallocate() }
        let attention = c.headCount * c.headDimension, kv = c.kvHeadCount * c.headDimension
        let widths = [c.hiddenSize, c.hiddenSize, attention, kv, kv, attention, c.hiddenSize, c.intermediateSize, c.intermediateSize, c.headDimension / 2, c.headDimension / 2]
        storage = widths.map { UnsafeMutablePointer<Float>.allocate(capacity: rows * $0) }
        self.rows = rows
    }

    func release() {
        storage.forEach { $0.deallocate() }
        logitStorage.forEach { $0.deallocate() }
    }

    private(set) var logitRows = 0
    private var logitStorage: [UnsafeMutablePointer<Float>] = []

    /// Final-norm output of the rows whose logits are wanted `[logitRows, hidden]`.
    var finalNormed: UnsafeMutablePointer<Float> { logitStorage[0] }
    /// Their logits `[logitRows, vocabulary]`: kept from pass to pass, so that a decode step
    /// writes memory it has written before instead of fresh pages (6 MB for 32 streams).
    var logits: UnsafeMutablePointer<Float> { logitStorage[1] }

    /// Ensures room for `rows` rows of logits of `configuration`'s vocabulary.
    mutating func reserve(logitRows rows: Int, configuration c: LlamaConfiguration) {
        guard rows > logitRows else { return }
        logitStorage.forEach { $0.deallocate() }
        logitStorage = [c.hiddenSize, c.vocabularySize].map { UnsafeMutablePointer<Float>.allocate(capacity: rows * $0) }
        logitRows = rows
    }
}

/// Per-thread buffers for attention scores.
final class AttentionScores: @unchecked Sendable {
    private var buffers: [UnsafeMutablePointer<Float>]
    private var capacity = 0

    init(members: Int) {
        buffers = (0..<members).map { _ in .allocate(capacity: 0) }
    }

    deinit { buffers.forEach { $0.deallocate() } }

    /// Makes every buffer hold at least `floats` floats. Called between parallel regions.
    func reserve(floats: Int) {
        guard floats > capacity else { return }
        capacity = max(floats, 2 * capacity)
        buffers = buffers.map { old in
            old.deallocate()
            return .allocate(capacity: capacity)
        }
    }

    func buffer(member: Int) -> UnsafeMutablePointer<Float> { buffers[member] }
}
