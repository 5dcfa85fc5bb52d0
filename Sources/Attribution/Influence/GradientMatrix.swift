/// Documents' gradient vectors (exact, or projected features) split into blocks, with what
/// every query's scoring reuses: each document's squared norm per block.
public struct GradientMatrix: Sendable {
    /// `count × width` values, row-major.
    public let values: [Float]
    public let count: Int
    public let width: Int
    /// Each block's columns, in order, covering `0..<width`.
    public let blocks: [Range<Int>]
    /// `‖g_li‖²` per document and block, `count × blocks.count`.
    public let squaredNorms: [Double]
    /// `‖g_k‖` per document: its blocks' squared norms summed in block order, square-rooted.
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
        precondition(blocks.first?.lowerBound == 0 && blocks.last?.upperBound == width
                     && zip(blocks, blocks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "blocks must tile the rows")
        self.values = values
        self.count = values.count / width
        self.width = width
        self.blocks = blocks
        let count = self.count
        squaredNorms = values.withUnsafeBufferPointer { values in
            (0..<count).flatMap { k in blocks.map { Self.dot(values.baseAddress! + k * width + $0.lowerBound, values.baseAddress! + k * width + $0.lowerBound, $0.count) } }
        }
        let blockCount = blocks.count, squaredNorms = self.squaredNorms
        norms = (0..<count).map { k in squaredNorms[(k * blockCount)..<((k + 1) * blockCount)].reduce(0, +).squareRoot() }
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
