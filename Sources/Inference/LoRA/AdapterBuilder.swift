import Dispatch
import Synchronization

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
            bytes += targets.last!.storedByteCount
        }

        let storage = AdapterStorage(byteCount: bytes)
        defer { if storage.isPooled { AdapterMemory.shared.refillIfLow() } }
        let work = Array(zip(sorted, targets))
        switch identity {
        case .compute:
            let hasher = CanonicalHasher(targetCount: targets.count)
            let scratch = Scratch(targets: targets, hashing: true)
            defer { scratch.deallocate() }
            for (source, target) in work {
                try fill(target, from: source, storage: storage, scratch: scratch, configuration: c)
                hash(target, from: source, into: hasher, scratch: scratch, configuration: c)
            }
            return LoRAAdapter(id: hasher.finish(), name: name, configuration: c, targets: targets, storage: storage)
        case let .known(id):
            try fillInParallel(work, storage: storage, configuration: c)
            return LoRAAdapter(id: id, name: name, configuration: c, targets: targets, storage: storage)
        }
    }

    /// Buffers one thread needs to convert targets: float values and a row map, and for
    /// hashing a second float buffer (`canonical`, empty otherwise).
    private struct Scratch {
        let values: UnsafeMutablePointer<Float>
        let canonical: UnsafeMutablePointer<Float>
        let rows: UnsafeMutablePointer<Int>

        init(targets: [LoRATarget], hashing: Bool) {
            let largest = targets.map { $0.rank * max($0.inputs, $0.outputs) }.max()!
            values = .allocate(capacity: largest)
            canonical = .allocate(capacity: hashing ? largest : 0)
            rows = .allocate(capacity: targets.map(\.outputs).max()!)
        }

        func deallocate() { values.deallocate(); canonical.deallocate(); rows.deallocate() }
    }

    /// Threads that fill an adapter's storage whose id is known (a load of a registered adapter).
    static let fillThreads = 2
    /// Factor bytes from which filling is split over `fillThreads` threads.
    static let fillParallelBytesMin = 1 << 20

    /// Fills the storage in the order the factors lie in their file (so the kernel's
    /// readahead keeps ahead of a file read from disk), split into `fillThreads` runs of
    /// about equal bytes done at once: reading, checking and first-touching fresh memory
    /// then overlap. Throws the error of the first failing target in file order.
    private static func fillInParallel(_ work: [(TargetSource, LoRATarget)], storage: AdapterStorage, configuration c: LlamaConfiguration) throws(AdapterError) {
        let ordered = work.sorted { $0.0.a.bytes.baseAddress! < $1.0.a.bytes.baseAddress! }
        let threads = storage.byteCount >= fillParallelBytesMin ? fillThreads : 1
        var runs: [Range<Int>] = [], first = 0, done = 0
        for (index, item) in ordered.enumerated() {
            done += item.1.storedByteCount
            if done * threads >= storage.byteCount * (runs.count + 1) || index == ordered.count - 1 {
                runs.append(first..<(index + 1))
                first = index + 1
            }
        }
        let spans = runs, failures = Mutex<[Int: AdapterError]>([:])
        DispatchQueue.concurrentPerform(iterations: spans.count) { run in
            let scratch = Scratch(targets: ordered[spans[run]].map(\.1), hashing: false)
            defer { scratch.deallocate() }
            for index in spans[run] {
                do throws(AdapterError) {
                    try fill(ordered[index].1, from: ordered[index].0, storage: storage, scratch: scratch, configuration: c)
                } catch {
                    failures.withLock { $0[index] = error }
                    return
                }
            }
        }
        if let first = failures.withLock({ $0.min { $0.key < $1.key } }) { throw first.value }
    }

    /// Checks one target's factors finite and writes them into the storage: `A` as is,
    /// `B` into panels with its rows in the base's order.
    private static func fill(_ target: LoRATarget, from source: TargetSource, storage: AdapterStorage, scratch: Scratch, configuration c: LlamaConfiguration) throws(AdapterError) {
        let aCount = target.rank * target.inputs, bCount = target.outputs * target.rank
        let a = storage.base + target.aByteOffset, panels = storage.base + target.bByteOffset
        let stored = RowOrder(c.ropeLayout)
        for row in 0..<target.outputs {
            scratch.rows[row] = stored.row(row, from: source.rowOrder, projection: target.projection, headDimension: c.headDimension)
        }
        switch target.type {
        case .f32:
            let floats = a.assumingMemoryBound(to: Float.self)
            source.a.type.dequantize(source.a.bytes.baseAddress!, count: aCount, into: floats)
            guard allFinite(floats, count: aCount) else { throw .nonFiniteWeights(source.a.name) }
            source.b.type.dequantize(source.b.bytes.baseAddress!, count: bCount, into: scratch.values)
            guard allFinite(scratch.values, count: bCount) else { throw .nonFiniteWeights(source.b.name) }
            writePanels(UnsafeRawPointer(scratch.values), as: UInt32.self, rows: scratch.rows, target: target, into: panels)
        case .f16, .bf16:
            // Both factors are stored in this type in the file (see `FactorType`).
            let exponent: UInt16 = target.type == .f16 ? 0x7C00 : 0x7F80
            guard allFinite(halves: source.a.bytes.baseAddress!, count: aCount, exponent: exponent) else { throw .nonFiniteWeights(source.a.name) }
            guard allFinite(halves: source.b.bytes.baseAddress!, count: bCount, exponent: exponent) else { throw .nonFiniteWeights(source.b.name) }
            a.copyMemory(from: source.a.bytes.baseAddress!, byteCount: aCount * 2)
            writePanels(source.b.bytes.baseAddress!, as: UInt16.self, rows: scratch.rows, target: target, into: panels)
        }
    }

    /// Adds one target's canonical content (B rows in Hugging Face order) to the hash.
    private static func hash(_ target: LoRATarget, from source: TargetSource, into hasher: CanonicalHasher, scratch: Scratch, configuration c: LlamaConfiguration) {
        let aCount = target.rank * target.inputs, bCount = target.outputs * target.rank
        hasher.add(target: target)
        source.a.type.dequantize(source.a.bytes.baseAddress!, count: aCount, into: scratch.values)
        hasher.add(floats: scratch.values, count: aCount)
        source.b.type.dequantize(source.b.bytes.baseAddress!, count: bCount, into: scratch.values)
        guard source.rowOrder != .huggingFace else { return hasher.add(floats: scratch.values, count: bCount) }
        for row in 0..<target.outputs {
            let from = RowOrder.huggingFace.row(row, from: source.rowOrder, projection: target.projection, headDimension: c.headDimension)
            (scratch.canonical + row * target.rank).update(from: scratch.values + from * target.rank, count: target.rank)
        }
        hasher.add(floats: scratch.canonical, count: bCount)
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

    /// Whether no half-precision value (f16 or bf16 bits, `exponent` its exponent mask, whose
    /// top bit is bit 14) is NaN or infinite: those have every exponent bit set.
    static func allFinite(halves: UnsafeRawPointer, count: Int, exponent: UInt16) -> Bool {
        // Adding the mask's lowest bit to `v & exponent` carries into bit 15 exactly for those.
        let lowest = exponent & (~exponent &+ 1)
        let mask = SIMD16<UInt16>(repeating: exponent), lowests = SIMD16<UInt16>(repeating: lowest)
        var carries = SIMD16<UInt16>()
        var i = 0
        while i + 16 <= count {
            carries |= (halves.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self) & mask) &+ lowests
            i += 16
        }
        var tail: UInt16 = 0
        while i < count {
            tail |= (halves.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & exponent) &+ lowest
            i += 1
        }
        return max(carries.max(), tail) < 0x8000
    }
}
