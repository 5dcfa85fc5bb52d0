/// One adapted projection as read from a file or given in memory, before it is checked and
/// converted to the engine's layout.
struct TargetSource {
    let layer: Int
    let projection: Projection
    /// The rank the adapter declares for this projection; both factors must agree with it.
    let rank: Int
    let scale: Float
    /// `[rank, inputs]`.
    let a: TensorData
    /// `[outputs, rank]`, rows in `rowOrder`.
    let b: TensorData
    let rowOrder: RowOrder
}

extension TargetSource {
    /// Wraps in-memory factors (B rows in Hugging Face order).
    init(pair: LoRAPair) {
        let label = "\(pair.projection.rawValue) of layer \(pair.layer)"
        func tensor(_ values: [Float], _ name: String, _ shape: [Int]) -> TensorData {
            let storage = AdapterStorage(byteCount: values.count * 4)
            values.withUnsafeBytes { storage.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            // A count that does not fill the shape is reported by the builder's shape check.
            let fits = shape.reduce(1, *) == values.count
            return TensorData(name: name, rowMajorShape: fits ? shape : [values.count], type: .f32,
                              bytes: UnsafeRawBufferPointer(start: storage.base, count: values.count * 4), owner: storage)
        }
        let rank = max(pair.rank, 1)
        self.init(
            layer: pair.layer, projection: pair.projection, rank: pair.rank, scale: pair.scale,
            a: tensor(pair.a, "A of \(label)", [pair.rank, pair.a.count / rank]),
            b: tensor(pair.b, "B of \(label)", [pair.b.count / rank, pair.rank]),
            rowOrder: .huggingFace)
    }
}

/// The order of a query or key projection's output rows; the other projections' rows are
/// the same in both.
enum RowOrder: Equatable {
    /// Hugging Face: the rotary pairs of a head are components `i` and `i + d/2`.
    case huggingFace
    /// GGUF Llama files: rows permuted so that the rotary pairs are `2i` and `2i + 1`.
    case interleaved

    init(_ layout: LlamaConfiguration.RopeLayout) { self = layout == .interleaved ? .interleaved : .huggingFace }

    /// The row of the same matrix in `source` order that is row `row` in this order.
    func row(_ row: Int, from source: RowOrder, projection: Projection, headDimension d: Int) -> Int {
        guard self != source, projection == .query || projection == .key else { return row }
        let head = row / d * d, within = row % d, half = d / 2
        switch self {
        case .interleaved: return head + (within % 2) * half + within / 2
        case .huggingFace: return head + 2 * (within % half) + within / half
        }
    }
}

/// Checks target sources against a base configuration and converts them into a `LoRAAdapter`:
/// one allocation, factors kept in the file's float type (`FactorType`), `A` copied as is,
/// `B` reordered into panels and its rows into the base's row order, every value checked
/// finite, and the canonical content hashed on the way.
enum AdapterBuilder {
    /// Whether to hash the content, or trust an id computed when the same files were validated.
    enum Identity {
        case compute
        case known(String)
    }

    static func build(name: String, configuration c: LlamaConfiguration, sources: [TargetSource], identity: Identity) throws(AdapterError) -> LoRAAdapter {
        guard !sources.isEmpty else { throw .missingTensor("any lora_A/lora_B pair (the adapter is empty)") }
        let sorted = sources.sorted { ($0.layer, $0.projection.index) < ($1.layer, $1.projection.index) }
        var targets: [LoRATarget] = []
        var bytes = 0
        for (index, source) in sorted.enumerated() {
            guard (0..<c.layerCount).contains(source.layer) else { throw .layerOutOfRange(source.layer, layerCount: c.layerCount) }
            if index > 0, sorted[index - 1].layer == source.layer, sorted[index - 1].projection == source.projection {
                throw .unexpectedTensor("a second pair for \(source.projection.rawValue) of layer \(source.layer)")
            }
            let (inputs, outputs) = source.projection.shape(c)
            guard source.rank >= 1 else { throw .badConfig("rank \(source.rank) for \(source.projection.rawValue) of layer \(source.layer)") }
            guard source.a.shape == [source.rank, inputs] else { throw .shapeMismatch(tensor: source.a.name, shape: source.a.shape, expected: [source.rank, inputs]) }
            guard source.b.shape == [outputs, source.rank] else { throw .shapeMismatch(tensor: source.b.name, shape: source.b.shape, expected: [outputs, source.rank]) }
            guard source.scale.isFinite else { throw .badConfig("scale \(source.scale) of \(source.projection.rawValue) of layer \(source.layer) is not finite") }
            let type = source.a.type == source.b.type ? FactorType(source.a.type) : .f32
            targets.append(LoRATarget(
                layer: source.layer, projection: source.projection, rank: source.rank, inputs: inputs, outputs: outputs,
                scale: source.scale, type: type, aByteOffset: bytes, bByteOffset: bytes + source.rank * inputs * type.byteWidth))
            bytes += source.rank * (inputs + outputs) * type.byteWidth
        }

        let storage = AdapterStorage(byteCount: bytes)
        let hasher: CanonicalHasher?
        if case .compute = identity { hasher = CanonicalHasher(targetCount: targets.count) } else { hasher = nil }
        let largest = targets.map { $0.rank * max($0.inputs, $0.outputs) }.max()!
        let values = UnsafeMutablePointer<Float>.allocate(capacity: largest), canonical = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        let rows = UnsafeMutablePointer<Int>.allocate(capacity: targets.map(\.outputs).max()!)
        defer { values.deallocate(); canonical.deallocate(); rows.deallocate() }
        let stored = RowOrder(c.ropeLayout), d = c.headDimension

        for (source, target) in zip(sorted, targets) {
            let aCount = target.rank * target.inputs, bCount = target.outputs * target.rank
            source.a.type.dequantize(source.a.bytes.baseAddress!, count: aCount, into: values)
            guard allFinite(values, count: aCount) else { throw .nonFiniteWeights(source.a.name) }
            hasher?.add(target: target)
            hasher?.add(floats: values, count: aCount)
            let a = storage.base + target.aByteOffset
            if target.type == .f32 { a.copyMemory(from: values, byteCount: aCount * 4) } else { a.copyMemory(from: source.a.bytes.baseAddress!, byteCount: aCount * 2) }

            source.b.type.dequantize(source.b.bytes.baseAddress!, count: bCount, into: values)
            guard allFinite(values, count: bCount) else { throw .nonFiniteWeights(source.b.name) }
            for row in 0..<target.outputs { rows[row] = stored.row(row, from: source.rowOrder, projection: target.projection, headDimension: d) }
            let panels = storage.base + target.bByteOffset
            switch target.type {
            case .f32: writePanels(UnsafeRawPointer(values), as: UInt32.self, rows: rows, target: target, into: panels)
            case .f16, .bf16: writePanels(source.b.bytes.baseAddress!, as: UInt16.self, rows: rows, target: target, into: panels)
            }
            guard let hasher else { continue }
            if source.rowOrder == .huggingFace {
                hasher.add(floats: values, count: bCount)
            } else {
                for row in 0..<target.outputs {
                    let from = RowOrder.huggingFace.row(row, from: source.rowOrder, projection: target.projection, headDimension: d)
                    (canonical + row * target.rank).update(from: values + from * target.rank, count: target.rank)
                }
                hasher.add(floats: canonical, count: bCount)
            }
        }
        let id: String
        switch identity {
        case .compute: id = hasher!.finish()
        case let .known(known): id = known
        }
        return LoRAAdapter(id: id, name: name, configuration: c, targets: targets, storage: storage)
    }

    /// Writes `B` (`outputs × rank` elements of type `T`, row-major) into panels, taking
    /// stored row `r` from row `rows[r]`.
    private static func writePanels<T: FixedWidthInteger>(_ b: UnsafeRawPointer, as _: T.Type, rows: UnsafePointer<Int>, target: LoRATarget, into panels: UnsafeMutableRawPointer) {
        let width = LoRAAdapter.panelWidth, rank = target.rank
        let source = b.assumingMemoryBound(to: T.self), destination = panels.assumingMemoryBound(to: T.self)
        var first = 0
        while first < target.outputs {
            let columns = min(width, target.outputs - first)
            let panel = destination + first * rank
            for column in 0..<columns {
                let row = source + rows[first + column] * rank
                for k in 0..<rank { panel[k * columns + column] = row[k] }
            }
            first += columns
        }
    }

    /// Whether no value is NaN or infinite: `v·0` is 0 for finite `v`, NaN otherwise.
    static func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        var probe = SIMD8<Float>()
        let raw = UnsafeRawPointer(values), zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            probe.addProduct(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), zero)
            i += 8
        }
        var tail: Float = 0
        while i < count { tail += values[i] * 0; i += 1 }
        return probe.sum() == 0 && tail == 0
    }
}
