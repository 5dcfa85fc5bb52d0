/// A sequence whose forward activations the inference engine keeps as it computes them, so
/// that `GradientEngine.lossAndGradient(_:recorded:parameters:)` can run the backward pass
/// without a forward pass of its own.
///
/// Evaluate tokens into `cache` as into any sequence (`InferenceEngine.evaluate`,
/// `TextGenerator.generate(_:caches:)`): every row at a position below `rowsMax` is recorded
/// at its position — what `SavedBlock` holds per block, and the residual stream after the
/// last block — so a row evaluated again (after `cache.truncate(to:)`) replaces what was
/// there. The recorded values are the engine's own, bit for bit; they depend on how the
/// rows were split into passes, as every float sum does.
public final class RecordedSequence {
    /// The sequence's keys and values (float32), with the record attached.
    public let cache: KVCache
    /// Positions recorded.
    public let rowsMax: Int
    let record: ForwardRecord

    /// An empty sequence for `engine`, recording positions `0..<rowsMax`. The engine must run
    /// float32 activations, the precision of the backward pass.
    public init(engine: InferenceEngine, rowsMax: Int) {
        precondition(engine.activations == .float32, "a recorded sequence needs float32 activations")
        precondition(rowsMax >= 1, "a recorded sequence keeps at least one row")
        self.rowsMax = rowsMax
        record = ForwardRecord(configuration: engine.configuration, rowsMax: rowsMax)
        cache = KVCache(configuration: engine.configuration, precision: .float32)
        cache.record = record
    }

    /// The token recorded at each position of `0..<count` (−1 where none is); `count ≤ rowsMax`.
    public func recordedTokens(_ count: Int) -> [Int32] {
        precondition(count <= rowsMax, "only \(rowsMax) positions are recorded")
        return Array(record.tokens[0..<count])
    }
}

/// The memory behind a `RecordedSequence`: one `SavedBlock` per layer, `rowsMax` rows each.
final class ForwardRecord {
    let rowsMax: Int
    let blocks: [SavedBlock]
    /// The residual stream after the last block `[rowsMax, hidden]`.
    let finalInput: UnsafeMutablePointer<Float>
    /// The token of each recorded position, −1 before its row is recorded.
    var tokens: [Int32]
    private let storage: UnsafeMutablePointer<Float>

    init(configuration c: LlamaConfiguration, rowsMax n: Int) {
        let floats = c.layerCount * SavedBlock.floats(c, rows: n) + n * c.hiddenSize
        rowsMax = n
        tokens = [Int32](repeating: -1, count: n)
        storage = .allocate(capacity: floats)
        var cursor = storage
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { cursor += count }
            return cursor
        }
        blocks = (0..<c.layerCount).map { _ in SavedBlock.carve(c, rows: n, take) }
        finalInput = take(n * c.hiddenSize)
        assert(cursor - storage == floats, "forward record carved past its storage")
    }

    deinit { storage.deallocate() }
}

/// The rows of one forward pass that belong to recorded sequences, and where each goes.
struct PassRecording {
    /// Per pass row: its record and position, or nil; empty when no row is recorded.
    private let targets: [(record: ForwardRecord, position: Int)?]
    private let recordedRows: [Int]

    init(_ rows: [ForwardRow]) {
        // Most passes record nothing: they allocate nothing here.
        guard rows.contains(where: { $0.cache.record != nil }) else {
            targets = []
            recordedRows = []
            return
        }
        let targets: [(record: ForwardRecord, position: Int)?] = rows.map { row in
            guard let record = row.cache.record, row.position < record.rowsMax else { return nil }
            return (record, row.position)
        }
        let recordedRows = targets.indices.filter { targets[$0] != nil }
        for row in recordedRows { targets[row]!.record.tokens[targets[row]!.position] = rows[row].token }
        self.targets = targets
        self.recordedRows = recordedRows
    }

    /// Copies each recorded row of `buffer` (`width` floats per row) into `field` of its block `layer`.
    func keep(_ field: KeyPath<SavedBlock, UnsafeMutablePointer<Float>>, layer: Int, from buffer: UnsafePointer<Float>, width: Int) {
        for row in recordedRows {
            let (record, position) = targets[row]!
            (record.blocks[layer][keyPath: field] + position * width).update(from: buffer + row * width, count: width)
        }
    }

    /// Stores a norm's factor of pass row `row` (if recorded) in `field` of block `layer`.
    func keep(_ field: KeyPath<SavedBlock, UnsafeMutablePointer<Float>>, layer: Int, row: Int, scale: Float) {
        guard !recordedRows.isEmpty, let (record, position) = targets[row] else { return }
        record.blocks[layer][keyPath: field][position] = scale
    }

    /// Copies each recorded row of the residual stream after the last block.
    func keepFinal(from residual: UnsafePointer<Float>, width: Int) {
        for row in recordedRows {
            let (record, position) = targets[row]!
            (record.finalInput + position * width).update(from: residual + row * width, count: width)
        }
    }
}
