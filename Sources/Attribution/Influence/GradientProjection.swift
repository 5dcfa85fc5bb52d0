import COpenBLAS
import Inference

/// Seeded random projections that shrink a LoRA gradient to features per block, so an
/// index keeps ≤ 16 KB per document and any implementation can regenerate them from
/// integers alone.
///
/// Block `l` (of `GradientBlocks`, `d_l` entries) is projected to `k_l` features by a
/// Rademacher matrix `R_l` (`k_l × d_l`, entries ±1/√k_l), so inner products are kept in
/// expectation (`E[(R a)·(R b)] = a·b`). Entry `(j, i)` of `R_l` is `+1/√k_l` when bit
/// `i mod 64` of the `⌊i/64⌋`-th output of SplitMix64 seeded with
/// `mix(seed ^ mix(l << 32 | j))` is set, else `−1/√k_l`; `mix` is SplitMix64's output
/// function (`z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
/// z ^= z >> 31`). How many features each block gets is the index's choice
/// (`allocation(budget:energies:)`); the index stores it.
public struct GradientProjection: Sendable {
    public let seed: UInt64
    public let blocks: GradientBlocks
    /// Features of each block (`k_l`).
    public let dimensions: [Int]
    /// Each block's first feature in a feature vector.
    public let featureOffsets: [Int]
    /// Each block's first entry in a flattened gradient.
    public let entryOffsets: [Int]
    /// `R_l` row-major as floats.
    private let matrices: [[Float]]

    /// Features per document the default budget allows: 32,760 int4 levels (16,380 bytes)
    /// and their float32 scale, 16 KB (`FeatureMatrix`).
    public static let featureBudgetDefault = 32_760

    /// The projection of `blocks` to `dimensions[l]` features each (1…`d_l`).
    public init(blocks: GradientBlocks, dimensions: [Int], seed: UInt64) {
        precondition(!blocks.blocks.isEmpty && dimensions.count == blocks.blocks.count, "a projection needs its blocks' dimensions")
        precondition(zip(dimensions, blocks.blocks).allSatisfy { $0 >= 1 && $0 <= $1.count }, "a block gets 1…d_l features")
        self.seed = seed
        self.blocks = blocks
        self.dimensions = dimensions
        featureOffsets = GradientBlocks.ranges(dimensions).map(\.lowerBound)
        entryOffsets = blocks.ranges.map(\.lowerBound)
        let dimensions = self.dimensions
        matrices = blocks.blocks.indices.map { l in Self.matrix(seed: seed, block: l, rows: dimensions[l], columns: blocks.blocks[l].count) }
    }

    /// Features in a projected vector.
    public var featureCount: Int { featureOffsets.last! + dimensions.last! }

    /// Features per block for `budget` features in all when block `l`'s gradients carry
    /// `energies[l]` (mean squared norm over a sample of documents): each block gets one
    /// feature, and the other `budget − blocks` go in proportion to energy — the split that
    /// minimises the variance of a projected inner product when a query's blocks weigh as
    /// the documents' do (block `l` adds `‖g_l‖²‖v_l‖²/k_l`). Shares are rounded down and the
    /// features left go one each to the largest remainders (ties: lower block first); no
    /// block gets more than its `d_l`, what it cannot take goes round again. Without energy
    /// (all zero) the budget is shared equally.
    public static func allocation(budget: Int, entries: [Int], energies: [Double]) -> [Int] {
        precondition(!entries.isEmpty && energies.count == entries.count && energies.allSatisfy { $0 >= 0 && $0.isFinite }, "one energy per block")
        let capacity = entries.reduce(0, +)
        var dimensions = [Int](repeating: 1, count: entries.count)
        var left = min(budget, capacity) - entries.count
        precondition(left >= 0, "a budget of \(budget) features cannot give \(entries.count) blocks one each")
        let weights = energies.allSatisfy { $0 == 0 } ? [Double](repeating: 1, count: entries.count) : energies
        while left > 0 {
            let open = entries.indices.filter { dimensions[$0] < entries[$0] && weights[$0] > 0 }
            let pool = open.isEmpty ? entries.indices.filter { dimensions[$0] < entries[$0] } : open
            let total = pool.reduce(0.0) { $0 + (open.isEmpty ? 1 : weights[$1]) }
            var shares: [(block: Int, whole: Int, remainder: Double)] = pool.map { l in
                let share = Double(left) * (open.isEmpty ? 1 : weights[l]) / total
                let whole = min(Int(share.rounded(.down)), entries[l] - dimensions[l])
                return (l, whole, share - Double(whole))
            }
            let given = shares.reduce(0) { $0 + $1.whole }
            shares.sort { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.block < $1.block }
            var extra = left - given
            for index in shares.indices where extra > 0 && dimensions[shares[index].block] + shares[index].whole < entries[shares[index].block] {
                shares[index].whole += 1
                extra -= 1
            }
            for share in shares { dimensions[share.block] += share.whole }
            left = extra
        }
        assert(dimensions.reduce(0, +) == min(budget, capacity) && zip(dimensions, entries).allSatisfy { $0 >= 1 && $0 <= $1 })
        return dimensions
    }

    /// `R_l` of block `l`: `rows × columns`, row-major.
    static func matrix(seed: UInt64, block: Int, rows: Int, columns: Int) -> [Float] {
        let magnitude = 1 / Float(rows).squareRoot()
        var values = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            var random = SplitMix64(seed: mix(seed ^ mix(UInt64(block) << 32 | UInt64(row))))
            var word: UInt64 = 0
            for column in 0..<columns {
                if column % 64 == 0 { word = random.next() }
                values[row * columns + column] = (word >> UInt64(column % 64)) & 1 == 1 ? magnitude : -magnitude
            }
        }
        return values
    }

    /// SplitMix64's output function.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The features of `gradients` (each flattened by `GradientBlocks.flatten`): one vector of
    /// `featureCount` values per gradient. Blocks are projected in parallel, each by one
    /// `sgemm` on `pool`, so the result does not depend on the thread count.
    public func project(_ gradients: [[Float]], pool: WorkerPool) -> [[Float]] {
        let count = blocks.count, features = featureCount, n = gradients.count
        precondition(gradients.allSatisfy { $0.count == count }, "gradients must have \(count) entries")
        guard n > 0 else { return [] }
        let input = gradients.flatMap { $0 }
        var output = [Float](repeating: 0, count: n * features)
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                pool.forEachChunk(blocks.blocks.count, chunk: 1) { _, range in
                    for l in range {
                        matrices[l].withUnsafeBufferPointer { matrix in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(dimensions[l]), Int32(blocks.blocks[l].count), 1,
                                        input.baseAddress! + entryOffsets[l], Int32(count), matrix.baseAddress!, Int32(blocks.blocks[l].count),
                                        0, output.baseAddress! + featureOffsets[l], Int32(features))
                        }
                    }
                }
            }
        }
        return (0..<n).map { Array(output[($0 * features)..<(($0 + 1) * features)]) }
    }
}
