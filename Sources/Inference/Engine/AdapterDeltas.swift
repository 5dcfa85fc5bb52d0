/// The adapter work of the forward pass in progress: which rows use which adapter, and
/// buffers reused from pass to pass so that applying adapters allocates nothing once they
/// have grown to the batch.
final class AdapterWork: @unchecked Sendable {
    /// Runs of consecutive rows that use one adapter (rows without one are in none).
    var segments: [Segment] = []
    var items: [Item] = []
    var units: [Unit] = []
    /// Rank-width intermediate `t = scale·x·Aᵀ` of every item.
    private(set) var t = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private var capacity = 0

    struct Segment {
        let adapter: LoRAAdapter
        let start: Int
        let count: Int
    }

    /// One adapter's pair for one map of a `project` call, over the adapter's rows.
    struct Item {
        let target: LoRATarget
        let factors: UnsafeRawPointer
        let map: Int
        let firstRow: Int
        /// Offset of this item's `rows × rank` block in `t`.
        let tOffset: Int
    }

    /// A slice of one segment's rows for its consecutive items `items`: the unit of
    /// parallel work. One adapter's pairs for one layer lie next to each other in memory, so
    /// a unit streams through one contiguous block of factors.
    struct Unit {
        let items: Range<Int>
        let rows: Range<Int>
        /// Bytes of factors the unit reads, to deal the largest units first.
        let bytes: Int
    }

    /// Rows per unit, so long prompts spread over the threads.
    static let unitRows = 64
    /// Multiply-adds below which a stage runs on the calling thread alone.
    static let inlineWorkMax = 1 << 16

    deinit { t.deallocate() }

    /// Makes `t` hold at least `floats` floats. Called between parallel regions.
    func reserve(floats: Int) {
        guard floats > capacity else { return }
        capacity = max(floats, 2 * capacity)
        t.deallocate()
        t = .allocate(capacity: capacity)
    }

    /// Finds the runs of rows that share an adapter.
    func plan(_ rows: [ForwardRow]) {
        segments.removeAll(keepingCapacity: true)
        var start = 0
        while start < rows.count {
            guard let adapter = rows[start].adapter else { start += 1; continue }
            var end = start + 1
            while end < rows.count, rows[end].adapter === adapter { end += 1 }
            segments.append(Segment(adapter: adapter, start: start, count: end - start))
            start = end
        }
    }

    /// Drops the pass's adapter references, so that the engine keeps no adapter alive.
    func finish() { segments.removeAll(keepingCapacity: true) }
}

extension InferenceEngine {
    /// Adds each row's adapter delta `scale·B·(A·x)` to the outputs of `maps` (which hold
    /// the base products already): for every adapter of the pass and map it adapts, its
    /// rows are shrunk to rank width, then expanded and added, in units of rows spread over
    /// the pool. Rows of other adapters and rows without one are not touched.
    func addAdapterDeltas(_ maps: [(Projection, from: UnsafeMutablePointer<Float>, to: UnsafeMutablePointer<Float>)], layer: Int) {
        let work = adapterWork
        guard !work.segments.isEmpty else { return }
        work.items.removeAll(keepingCapacity: true)
        work.units.removeAll(keepingCapacity: true)
        var floats = 0, multiplyAdds = 0
        for segment in work.segments {
            let first = work.items.count
            var bytes = 0
            for (map, entry) in maps.enumerated() {
                guard let index = segment.adapter.targetIndex(layer: layer, projection: entry.0) else { continue }
                let target = segment.adapter.targets[index]
                work.items.append(AdapterWork.Item(
                    target: target, factors: UnsafeRawPointer(segment.adapter.storage.base), map: map, firstRow: segment.start, tOffset: floats))
                floats += segment.count * target.rank
                multiplyAdds += segment.count * target.rank * (target.inputs + target.outputs)
                bytes += target.rank * (target.inputs + target.outputs) * target.type.byteWidth
            }
            guard work.items.count > first else { continue }
            for start in stride(from: 0, to: segment.count, by: AdapterWork.unitRows) {
                work.units.append(AdapterWork.Unit(items: first..<work.items.count, rows: start..<min(segment.count, start + AdapterWork.unitRows), bytes: bytes))
            }
        }
        // Largest first, so that the threads finish together (units differ by rank and targets).
        work.units.sort { $0.bytes > $1.bytes }
        guard !work.items.isEmpty else { return }
        work.reserve(floats: floats)
        let t = work.t, items = work.items, units = work.units
        let chunk = multiplyAdds <= AdapterWork.inlineWorkMax ? units.count : 1
        // A unit shrinks its rows into its own slice of `t` and expands them into its own
        // output rows, so one parallel region does both stages. The per-thread scratch
        // (free after the base product) holds float32 copies of 16-bit factors for `sgemm`.
        let scratch = self.scratch
        pool.forEachChunk(units.count, chunk: chunk) { member, range in
            for unit in units[range] {
                for item in items[unit.items] {
                    let x = maps[item.map].from + (item.firstRow + unit.rows.lowerBound) * item.target.inputs
                    let y = maps[item.map].to + (item.firstRow + unit.rows.lowerBound) * item.target.outputs
                    let t = t + item.tOffset + unit.rows.lowerBound * item.target.rank
                    let buffer = scratch.buffer(member: member)
                    switch item.target.type {
                    case .f32: Self.addDelta(StoredF32.self, item, rows: unit.rows.count, x: x, t: t, y: y, scratch: buffer, scratchFloats: scratch.floatsPerMember)
                    case .f16: Self.addDelta(StoredF16.self, item, rows: unit.rows.count, x: x, t: t, y: y, scratch: buffer, scratchFloats: scratch.floatsPerMember)
                    case .bf16: Self.addDelta(StoredBF16.self, item, rows: unit.rows.count, x: x, t: t, y: y, scratch: buffer, scratchFloats: scratch.floatsPerMember)
                    }
                }
            }
        }
    }

    /// The factors `addAdapterDeltas` will read for `projections` of `layer`: the base
    /// product before it fetches them toward the cache.
    func adapterFactors(_ projections: [Projection], layer: Int) -> PrefetchPlan {
        guard !adapterWork.segments.isEmpty else { return .none }
        var ranges: [UnsafeRawBufferPointer] = []
        for segment in adapterWork.segments {
            let base = UnsafeRawPointer(segment.adapter.storage.base)
            for projection in projections {
                guard let index = segment.adapter.targetIndex(layer: layer, projection: projection) else { continue }
                let target = segment.adapter.targets[index], width = target.type.byteWidth
                ranges.append(UnsafeRawBufferPointer(start: base + target.aByteOffset, count: target.rank * target.inputs * width))
                ranges.append(UnsafeRawBufferPointer(start: base + target.bByteOffset, count: target.rank * target.outputs * width))
            }
        }
        return PrefetchPlan(ranges)
    }

    /// One item's delta for `rows` rows: shrink `x` into `t`, expand `t` into `y`.
    private static func addDelta<F: StoredFloat>(
        _: F.Type, _ item: AdapterWork.Item, rows: Int, x: UnsafePointer<Float>, t: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, scratchFloats: Int
    ) {
        let target = item.target
        LowRankKernels.shrink(
            F.self, x: x, xStride: target.inputs, rows: rows, a: item.factors + target.aByteOffset, rank: target.rank, inputs: target.inputs,
            scale: target.scale, into: t, scratch: scratch, scratchFloats: scratchFloats)
        LowRankKernels.expand(
            F.self, t: t, rows: rows, rank: target.rank, panels: item.factors + target.bByteOffset, outputs: target.outputs,
            y: y, yStride: target.outputs, scratch: scratch, scratchFloats: scratchFloats)
    }
}
