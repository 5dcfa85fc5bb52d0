/// Documents' exact gradient vectors (float32) split into blocks, with what every query's
/// scoring reuses: each document's squared norm per block.
public struct GradientMatrix: ScoringRows {
    /// `count × width` values, row-major.
    public let values: [Float]
    public let count: Int
    public let width: Int
    public let blocks: [Range<Int>]
    public let squaredNorms: [Double]
    public let norms: [Double]

    public init(rows: [[Float]], blocks: [Range<Int>]) {
        precondition(!rows.isEmpty, "scoring needs documents")
        let width = rows[0].count
        precondition(rows.allSatisfy { $0.count == width }, "rows must have one width")
        self.init(values: rows.flatMap { $0 }, width: width, blocks: blocks)
    }

    /// `values`: `values.count / width` rows of `width` values, row-major.
    public init(values: [Float], width: Int, blocks: [Range<Int>]) {
        precondition(width > 0 && !values.isEmpty && values.count % width == 0, "scoring needs whole rows of documents")
        precondition(Self.tiles(blocks, width: width), "blocks must tile the rows")
        self.values = values
        self.count = values.count / width
        self.width = width
        self.blocks = blocks
        (squaredNorms, norms) = values.withUnsafeBufferPointer { values in
            Self.norms(count: values.count / width, blocks: blocks) { k, columns in
                let row = values.baseAddress! + k * width + columns.lowerBound
                return Self.dot(row, row, columns.count)
            }
        }
    }

    public func rowValues(_ k: Int) -> [Float] { Array(values[(k * width)..<((k + 1) * width)]) }

    public func query(_ v: [Float]) -> [Float] {
        precondition(v.count == width, "query gradient of \(v.count) values for \(width)-wide documents")
        return v
    }

    public func squaredNorm(_ query: [Float]) -> Double { query.withUnsafeBufferPointer { Self.dot($0.baseAddress!, $0.baseAddress!, width) } }

    public func dot(_ query: [Float], row k: Int, columns: Range<Int>) -> Double {
        query.withUnsafeBufferPointer { v in
            values.withUnsafeBufferPointer { Self.dot(v.baseAddress! + columns.lowerBound, $0.baseAddress! + k * width + columns.lowerBound, columns.count) }
        }
    }

    public func values(of query: [Float], columns: Range<Int>) -> [Double] { columns.map { Double(query[$0]) } }

    public func dot(_ u: UnsafePointer<Double>, row k: Int, columns: Range<Int>) -> Double {
        values.withUnsafeBufferPointer { values in Self.weightedSum(u, values.baseAddress! + k * width + columns.lowerBound, columns.count) { Double($0) } }
    }

    public func squaredDot(_ u: UnsafePointer<Double>, row k: Int) -> Double {
        values.withUnsafeBufferPointer { values in Self.weightedSum(u, values.baseAddress! + k * width, width) { Double($0) * Double($0) } }
    }

    public func addSquared(row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        values.withUnsafeBufferPointer { values in
            let row = values.baseAddress! + k * width + columns.lowerBound
            for j in 0..<columns.count { w[j] += Double(row[j]) * Double(row[j]) }
        }
    }

    public func add(_ c: Double, row k: Int, columns: Range<Int>, into w: UnsafeMutablePointer<Double>) {
        values.withUnsafeBufferPointer { values in
            let row = values.baseAddress! + k * width + columns.lowerBound
            for j in 0..<columns.count { w[j] += c * Double(row[j]) }
        }
    }

    /// `Σ a[i]·b[i]` over `count` entries in float64, in an order fixed by `count` alone: eight
    /// lanes each sum every eighth product in index order, the lanes are added pairwise, then
    /// the tail in index order. Any thread gives the same bits.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Double {
        var lanes = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            lanes += SIMD8<Double>(x) * SIMD8<Double>(y)
            i += 8
        }
        let fours = lanes.lowHalf + lanes.highHalf, twos = fours.lowHalf + fours.highHalf
        var sum = twos[0] + twos[1]
        while i < count {
            sum += Double(a[i]) * Double(b[i])
            i += 1
        }
        return sum
    }
}
