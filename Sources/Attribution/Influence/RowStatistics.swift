import Inference

/// What some methods score with besides the rows and the query, each computed from the rows
/// the first time a method needs it and kept for every later query (an `Attributor` keeps one
/// per index): the `FeatureStandardization` of `standardized`, `centered`, `csls` and
/// `expanded`, the `Hubness` of `csls` and `expanded`, and the `BlockFisher` of `fisher` and
/// `hybrid`.
/// Each follows bit for bit from the rows, so a verifier derives the same. Used from one thread
/// at a time.
public final class RowStatistics<Rows: ScoringRows> {
    public let rows: Rows
    /// The threads the statistics are computed on.
    public let pool: WorkerPool

    public init(_ rows: Rows, pool: WorkerPool) {
        self.rows = rows
        self.pool = pool
    }

    public lazy var standardization = FeatureStandardization(rows, pool: pool)
    public lazy var hubness = Hubness(rows, standardization: standardization, pool: pool)
    public lazy var fisher = BlockFisher(rows, pool: pool)
}
