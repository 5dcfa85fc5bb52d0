import Inference

/// Documents' projected features as an index keeps them: each row quantized to int4 levels
/// (−7…7, two to a byte) with one float32 scale (`quantize`), so a document's 32,760 features
/// take 16 KB. A query keeps int8 levels (`query`). Inner products of a query with a row are
/// exact integer sums, scaled once, so they do not depend on the order or thread they are
/// computed in.
///
/// Packing: feature `j` of a row is in byte `j / 2` of the row's `(width + 1) / 2` bytes, the
/// low nibble when `j` is even, the high nibble when odd, as a 4-bit two's-complement number
/// (−8 is never stored); an odd width leaves the last byte's high nibble zero.
public struct FeatureMatrix: ScoringRows {
    /// A row quantized: `value_j ≈ scale · levels[j]`.
    public struct QuantizedRow: Sendable, Equatable {
        public let scale: Float
        public let levels: [Int8]

        public init(scale: Float, levels: [Int8]) {
            precondition(scale >= 0 && scale.isFinite && !levels.contains(-128), "a scale ≥ 0 and levels −127…127")
            self.scale = scale
            self.levels = levels
        }
    }

    /// `count × rowBytes` packed levels, row-major.
    public let packed: [UInt8]
    /// One scale per row.
    public let scales: [Float]
    public let count: Int
    public let width: Int
    public let blocks: [Range<Int>]
    public let squaredNorms: [Double]
    public let norms: [Double]

    /// The largest level of a stored row.
    public static let rowLevelMax: Int8 = 7
    /// The largest level of a query.
    public static let queryLevelMax: Int8 = 127
    /// Where a row's scale clips: this many times the row's root mean square (or its largest
    /// magnitude, when smaller). Projected features are near Gaussian, so a clip near 3σ
    /// spends the 15 levels where the values are, and one outlier cannot flatten the rest of
    /// the row to zero.
    public static let rowClipRMS: Double = 3

    /// Bytes of one packed row of `width` levels.
    public static func rowBytes(width: Int) -> Int { (width + 1) / 2 }

    /// How a document's features are stored: `scale = min(max_j |x_j|, 3·rms(x)) / 7` (the
    /// mean square summed in float64 in index order, the scale rounded to float32) and
    /// `levels[j] = x_j / scale` rounded to nearest, ties away from zero, clamped to −7…7; a
    /// row of zeros has scale 0.
    public static func quantize(_ row: [Float]) -> QuantizedRow {
        var squares = 0.0
        for x in row { squares += Double(x) * Double(x) }
        let clip = Float(rowClipRMS * (squares / Double(max(1, row.count))).squareRoot())
        return quantize(row, largest: min(clip, largestMagnitude(row)), levelMax: rowLevelMax)
    }

    /// How a query's features are compared with the rows: `scale = max_j |v_j| / 127` and
    /// levels rounded to nearest, −127…127.
    public static func quantizeQuery(_ v: [Float]) -> QuantizedRow {
        quantize(v, largest: largestMagnitude(v), levelMax: queryLevelMax)
    }

    static func largestMagnitude(_ row: [Float]) -> Float {
        let largest = row.reduce(Float(0)) { max($0, abs($1)) }
        precondition(largest.isFinite, "features must be finite")
        return largest
    }

    static func quantize(_ row: [Float], largest: Float, levelMax: Int8) -> QuantizedRow {
        guard largest > 0 else { return QuantizedRow(scale: 0, levels: [Int8](repeating: 0, count: row.count)) }
        let scale = largest / Float(levelMax), top = Float(levelMax)
        return QuantizedRow(scale: scale, levels: row.map { Int8(max(-top, min(top, ($0 / scale).rounded()))) })
    }

    /// `packed`: `scales.count` rows of `rowBytes(width:)` bytes, as the index file stores them.
    public init(packed: [UInt8], scales: [Float], width: Int, blocks: [Range<Int>]) {
        let rowBytes = Self.rowBytes(width: width)
        precondition(width > 0 && !scales.isEmpty && packed.count == scales.count * rowBytes, "scoring needs whole rows of documents")
        precondition(Self.tiles(blocks, width: width), "blocks must tile the rows")
        precondition(Self.validPacking(packed, width: width) && scales.allSatisfy { $0 >= 0 && $0.isFinite }, "levels are −7…7, scales finite")
        self.packed = packed
        self.scales = scales
        self.count = scales.count
        self.width = width
        self.blocks = blocks
        (squaredNorms, norms) = packed.withUnsafeBufferPointer { packed in
            Self.norms(count: scales.count, blocks: blocks) { k, columns in
                Self.withLevels(packed.baseAddress! + k * rowBytes, columns: columns) { row in
                    Double(scales[k]) * Double(scales[k]) * Double(Self.dot(row, row, columns.count))
                }
            }
        }
    }

    /// The rows of `quantized`, each `width` levels in −7…7.
    public init(rows quantized: [QuantizedRow], width: Int, blocks: [Range<Int>]) {
        precondition(quantized.allSatisfy { $0.levels.count == width && $0.levels.allSatisfy { abs($0) <= Self.rowLevelMax } },
                     "rows must have \(width) levels in −7…7")
        let rowBytes = Self.rowBytes(width: width)
        var packed = [UInt8](repeating: 0, count: quantized.count * rowBytes)
        for (k, row) in quantized.enumerated() {
            for (j, level) in row.levels.enumerated() {
                packed[k * rowBytes + j / 2] |= (UInt8(bitPattern: level) & 0x0F) << (j % 2 == 0 ? 0 : 4)
            }
        }
        self.init(packed: packed, scales: quantized.map(\.scale), width: width, blocks: blocks)
    }

    /// Whether every nibble of `packed` is a level −7…7 and each row's padding nibble is zero.
    public static func validPacking(_ packed: [UInt8], width: Int) -> Bool {
        let rowBytes = rowBytes(width: width)
        return packed.enumerated().allSatisfy { index, byte in
            byte & 0x0F != 0x08 && byte >> 4 != 0x08 && (width % 2 == 0 || index % rowBytes != rowBytes - 1 || byte >> 4 == 0)
        }
    }

    /// Row `k` as stored.
    public func row(_ k: Int) -> QuantizedRow {
        packed.withUnsafeBufferPointer { packed in
            Self.withLevels(packed.baseAddress! + k * Self.rowBytes(width: width), columns: 0..<width) {
                QuantizedRow(scale: scales[k], levels: Array(UnsafeBufferPointer(start: $0, count: width)))
            }
        }
    }

    /// Row `k`'s packed bytes.
    public func packedRow(_ k: Int) -> ArraySlice<UInt8> { packed[(k * Self.rowBytes(width: width))..<((k + 1) * Self.rowBytes(width: width))] }

    /// `body` with levels `columns` of row `packed` unpacked into a temporary buffer (its
    /// first entry is level `columns.lowerBound`): every byte the columns touch, both nibbles.
    @inline(__always)
    static func withLevels<T>(_ packed: UnsafePointer<UInt8>, columns: Range<Int>, _ body: (UnsafePointer<Int8>) -> T) -> T {
        let first = columns.lowerBound / 2, bytes = (columns.upperBound + 1) / 2 - first
        return withUnsafeTemporaryAllocation(of: Int8.self, capacity: max(1, 2 * bytes)) { levels in
            let source = packed + first, target = levels.baseAddress!
            for i in 0..<bytes {
                let byte = Int8(bitPattern: source[i])
                target[2 &* i] = (byte &<< 4) &>> 4
                target[2 &* i &+ 1] = byte &>> 4
            }
            return body(UnsafePointer(target + columns.lowerBound % 2))
        }
    }

    public func rowValues(_ k: Int) -> [Float] {
        let stored = row(k)
        return stored.levels.map { stored.scale * Float($0) }
    }

    /// A query's features, quantized as `quantizeQuery` says.
    public func query(_ v: [Float]) -> QuantizedRow {
        precondition(v.count == width, "query features of \(v.count) values for \(width)-wide documents")
        return Self.quantizeQuery(v)
    }

    public func squaredNorm(_ query: QuantizedRow) -> Double {
        query.levels.withUnsafeBufferPointer { Double(query.scale) * Double(query.scale) * Double(Self.dot($0.baseAddress!, $0.baseAddress!, width)) }
    }

    public func dot(_ query: QuantizedRow, row k: Int, columns: Range<Int>) -> Double {
        query.levels.withUnsafeBufferPointer { v in
            packed.withUnsafeBufferPointer { packed in
                Double(query.scale) * Double(scales[k])
                    * Double(Self.packedDot(v.baseAddress!, packed.baseAddress! + k * Self.rowBytes(width: width), columns: columns))
            }
        }
    }

    /// The queries' levels split into even and odd planes once, then each packed row's
    /// bytes unpacked once for four queries at a time (`pairDots4`): the same exact integer
    /// sums as `dot`, about twice as fast per product.
    public func dots(_ queries: [QuantizedRow], rows: Range<Int>, pool: WorkerPool) -> [[Double]] {
        precondition(queries.allSatisfy { $0.levels.count == width }, "queries as wide as the rows")
        let pairs = width / 2, groups = (queries.count + 3) / 4
        // Plane p of query q at `(q · 2 + p) · pairs`, padded to whole groups of four with zeros.
        var planes = [Int8](repeating: 0, count: groups * 4 * 2 * pairs)
        for (q, query) in queries.enumerated() {
            for i in 0..<pairs {
                planes[(q * 2) * pairs + i] = query.levels[2 * i]
                planes[(q * 2 + 1) * pairs + i] = query.levels[2 * i + 1]
            }
        }
        let sums: [[Int]] = planes.withUnsafeBufferPointer { planes in
            packed.withUnsafeBufferPointer { packed in
                rows.mapInParallel(chunk: 16, pool: pool) { k -> [Int] in
                    let row = packed.baseAddress! + k * Self.rowBytes(width: width)
                    var totals = [Int](repeating: 0, count: groups * 4)
                    for group in 0..<groups {
                        var pair = 0
                        while pair < pairs {
                            let runEnd = min(pairs, pair + Self.exactRun)
                            let part = Self.pairDots4(planes.baseAddress! + group * 8 * pairs + pair, stride: pairs, row + pair, runEnd - pair)
                            for lane in 0..<4 { totals[group * 4 + lane] += Int(part[lane]) }
                            pair = runEnd
                        }
                    }
                    if width % 2 == 1 {
                        for (q, query) in queries.enumerated() { totals[q] += Int(query.levels[width - 1]) * Int(Self.level(row, width - 1)) }
                    }
                    return totals
                }
            }
        }
        return queries.indices.map { q in
            rows.indices.map { Double(queries[q].scale) * Double(scales[$0]) * Double(sums[$0 - rows.lowerBound][q]) }
        }
    }

    /// `pairDot` of one packed row with four queries whose levels are split into planes:
    /// query `q`'s even levels at `planes + 2q·stride`, its odd ones at `planes + (2q+1)·stride`.
    @inline(__always)
    static func pairDots4(_ planes: UnsafePointer<Int8>, stride: Int, _ row: UnsafePointer<UInt8>, _ pairs: Int) -> SIMD4<Int32> {
        let (e0, o0, e1, o1) = (planes, planes + stride, planes + 2 * stride, planes + 3 * stride)
        let (e2, o2, e3, o3) = (planes + 4 * stride, planes + 5 * stride, planes + 6 * stride, planes + 7 * stride)
        var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
        for i in 0..<pairs {
            let byte = Int8(bitPattern: row[i])
            let low = Int32(truncatingIfNeeded: (byte &<< 4) &>> 4), high = Int32(truncatingIfNeeded: byte &>> 4)
            s0 &+= Int32(truncatingIfNeeded: e0[i]) &* low &+ Int32(truncatingIfNeeded: o0[i]) &* high
            s1 &+= Int32(truncatingIfNeeded: e1[i]) &* low &+ Int32(truncatingIfNeeded: o1[i]) &* high
            s2 &+= Int32(truncatingIfNeeded: e2[i]) &* low &+ Int32(truncatingIfNeeded: o2[i]) &* high
            s3 &+= Int32(truncatingIfNeeded: e3[i]) &* low &+ Int32(truncatingIfNeeded: o3[i]) &* high
        }
        return SIMD4(s0, s1, s2, s3)
    }

    public func values(of query: QuantizedRow, columns: Range<Int>) -> [Double] { columns.map { Double(query.scale) * Double(query.levels[$0]) } }

    public func dot(_ u: UnsafePointer<Double>, row k: Int, columns: Range<Int>) -> Double {
        withRow(k, columns: columns) { Double(scales[k]) * Self.weightedSum(u, $0, columns.count) { Double($0) } }
    }

    public func squaredDot(_ u: UnsafePointer<Double>, row k: Int) -> Double {
        withRow(k, columns: 0..<width) { Double(scales[k]) * Double(scales[k]) * Self.weightedSum(u, $0, width) { Double($0) * Double($0) } }
    }

    public func addSquared(row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        packed.withUnsafeBufferPointer { packed in
            let row = packed.baseAddress! + k * Self.rowBytes(width: width), scale = Double(scales[k])
            for j in columns {
                let value = scale * Double(Self.level(row, j))
                w[j &- columns.lowerBound] += value * value
            }
        }
    }

    public func add(_ c: Double, row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        packed.withUnsafeBufferPointer { packed in
            let row = packed.baseAddress! + k * Self.rowBytes(width: width), scaled = c * Double(scales[k])
            for j in columns { w[j &- columns.lowerBound] += scaled * Double(Self.level(row, j)) }
        }
    }

    /// Level `j` of a packed row, without a branch: the low nibble shifted up for even `j`.
    @inline(__always)
    static func level(_ row: UnsafePointer<UInt8>, _ j: Int) -> Int8 {
        (Int8(bitPattern: row[j &>> 1]) &<< Int8(truncatingIfNeeded: 4 &- 4 &* (j & 1))) &>> 4
    }

    private func withRow<T>(_ k: Int, columns: Range<Int>, _ body: (UnsafePointer<Int8>) -> T) -> T {
        packed.withUnsafeBufferPointer { Self.withLevels($0.baseAddress! + k * Self.rowBytes(width: width), columns: columns, body) }
    }

    /// `Σ_j q[j]·level_j` over `columns` of a packed row, exactly: the pairs of the even-aligned
    /// middle in int32 runs of `exactRun` pairs (each pair at most 2·127·7 = 1,778, so no run
    /// can overflow, and the compiler may vectorise a run in any order), the edges on their
    /// own, all added up as `Int`.
    @inline(__always)
    static func packedDot(_ q: UnsafePointer<Int8>, _ row: UnsafePointer<UInt8>, columns: Range<Int>) -> Int {
        var total = 0, j = columns.lowerBound
        let end = columns.upperBound
        if j % 2 == 1 && j < end {
            total += Int(q[j]) * Int(level(row, j))
            j += 1
        }
        var pair = j / 2
        let pairsEnd = end / 2
        while pair < pairsEnd {
            let runEnd = min(pairsEnd, pair + exactRun)
            total += pairDot(q + 2 * pair, row + pair, runEnd - pair)
            pair = runEnd
        }
        if end % 2 == 1 && end - 1 >= j { total += Int(q[end - 1]) * Int(level(row, end - 1)) }
        return total
    }

    /// `Σ_i q[2i]·low(row[i]) + q[2i+1]·high(row[i])` over `pairs` bytes in int32 (offsets from
    /// zero and wrapping arithmetic, so the loop vectorises; the caller keeps `pairs` within a run).
    @inline(__always)
    static func pairDot(_ q: UnsafePointer<Int8>, _ row: UnsafePointer<UInt8>, _ pairs: Int) -> Int {
        var sum: Int32 = 0
        for i in 0..<pairs {
            let byte = Int8(bitPattern: row[i])
            sum &+= Int32(truncatingIfNeeded: q[2 &* i]) &* Int32(truncatingIfNeeded: (byte &<< 4) &>> 4)
                &+ Int32(truncatingIfNeeded: q[2 &* i &+ 1]) &* Int32(truncatingIfNeeded: byte &>> 4)
        }
        return Int(sum)
    }

    /// `Σ a[i]·b[i]` of levels, exactly: int32 sums over runs of `exactRun` entries (at most
    /// 65,536 · 127² < 2³¹, so no run can overflow, and the compiler may vectorise each run's
    /// sum in any order), added up as `Int`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int {
        var total = 0, start = 0
        while start < count {
            let end = min(count, start + exactRun)
            var sum: Int32 = 0
            for i in start..<end { sum &+= Int32(truncatingIfNeeded: a[i]) &* Int32(truncatingIfNeeded: b[i]) }
            total += Int(sum)
            start = end
        }
        return total
    }

    /// Entries whose int32 sum of level products cannot overflow.
    static var exactRun: Int { 65_536 }
}
