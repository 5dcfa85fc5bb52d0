/// Documents' projected features as an index keeps them: each row quantized to int8 with
/// one float32 scale (`quantize`), so a document's 16,380 features take 16 KB. Inner products
/// of two quantized rows are exact integer sums, scaled once, so they do not depend on the
/// order or thread they are computed in.
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

    /// `count × width` levels, row-major.
    public let levels: [Int8]
    /// One scale per row.
    public let scales: [Float]
    public let count: Int
    public let width: Int
    public let blocks: [Range<Int>]
    public let squaredNorms: [Double]
    public let norms: [Double]

    /// The levels a row is stored with: `scale = max_j |x_j| / 127` (float32) and
    /// `levels[j] = x_j / scale` rounded to nearest, ties away from zero, so every level is in
    /// −127…127; a row of zeros has scale 0.
    public static func quantize(_ row: [Float]) -> QuantizedRow {
        let largest = row.reduce(Float(0)) { max($0, abs($1)) }
        precondition(largest.isFinite, "features must be finite")
        guard largest > 0 else { return QuantizedRow(scale: 0, levels: [Int8](repeating: 0, count: row.count)) }
        let scale = largest / 127
        return QuantizedRow(scale: scale, levels: row.map { Int8(max(-127, min(127, ($0 / scale).rounded()))) })
    }

    /// `levels`: `scales.count` rows of `width` levels, row-major.
    public init(levels: [Int8], scales: [Float], width: Int, blocks: [Range<Int>]) {
        precondition(width > 0 && !scales.isEmpty && levels.count == scales.count * width, "scoring needs whole rows of documents")
        precondition(Self.tiles(blocks, width: width), "blocks must tile the rows")
        precondition(levels.allSatisfy { $0 != -128 } && scales.allSatisfy { $0 >= 0 && $0.isFinite }, "levels are −127…127, scales finite")
        self.levels = levels
        self.scales = scales
        self.count = scales.count
        self.width = width
        self.blocks = blocks
        (squaredNorms, norms) = levels.withUnsafeBufferPointer { levels in
            Self.norms(count: scales.count, blocks: blocks) { k, columns in
                let row = levels.baseAddress! + k * width + columns.lowerBound
                return Double(scales[k]) * Double(scales[k]) * Double(Self.dot(row, row, columns.count))
            }
        }
    }

    /// The rows of `quantized`, each `width` levels.
    public init(rows quantized: [QuantizedRow], width: Int, blocks: [Range<Int>]) {
        precondition(quantized.allSatisfy { $0.levels.count == width }, "rows must have \(width) levels")
        self.init(levels: quantized.flatMap(\.levels), scales: quantized.map(\.scale), width: width, blocks: blocks)
    }

    /// Row `k` as stored.
    public func row(_ k: Int) -> QuantizedRow {
        QuantizedRow(scale: scales[k], levels: Array(levels[(k * width)..<((k + 1) * width)]))
    }

    /// A query's features are quantized as the rows are.
    public func query(_ v: [Float]) -> QuantizedRow {
        precondition(v.count == width, "query features of \(v.count) values for \(width)-wide documents")
        return Self.quantize(v)
    }

    public func squaredNorm(_ query: QuantizedRow) -> Double {
        query.levels.withUnsafeBufferPointer { Double(query.scale) * Double(query.scale) * Double(Self.dot($0.baseAddress!, $0.baseAddress!, width)) }
    }

    public func dot(_ query: QuantizedRow, row k: Int, columns: Range<Int>) -> Double {
        query.levels.withUnsafeBufferPointer { v in
            levels.withUnsafeBufferPointer { levels in
                Double(query.scale) * Double(scales[k])
                    * Double(Self.dot(v.baseAddress! + columns.lowerBound, levels.baseAddress! + k * width + columns.lowerBound, columns.count))
            }
        }
    }

    public func values(of query: QuantizedRow, columns: Range<Int>) -> [Double] { columns.map { Double(query.scale) * Double(query.levels[$0]) } }

    public func dot(_ u: UnsafePointer<Double>, row k: Int) -> Double {
        levels.withUnsafeBufferPointer { levels in
            Double(scales[k]) * Self.weightedSum(u, levels.baseAddress! + k * width, width) { Double($0) }
        }
    }

    public func squaredDot(_ u: UnsafePointer<Double>, row k: Int) -> Double {
        levels.withUnsafeBufferPointer { levels in
            Double(scales[k]) * Double(scales[k]) * Self.weightedSum(u, levels.baseAddress! + k * width, width) { Double($0) * Double($0) }
        }
    }

    public func addSquared(row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        levels.withUnsafeBufferPointer { levels in
            let row = levels.baseAddress! + k * width + columns.lowerBound, scale = Double(scales[k])
            for j in 0..<columns.count { w[j] += (scale * Double(row[j])) * (scale * Double(row[j])) }
        }
    }

    public func add(_ c: Double, row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        levels.withUnsafeBufferPointer { levels in
            let row = levels.baseAddress! + k * width + columns.lowerBound, scaled = c * Double(scales[k])
            for j in 0..<columns.count { w[j] += scaled * Double(row[j]) }
        }
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
