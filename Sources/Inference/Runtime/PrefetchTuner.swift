/// Decides, while an engine runs, whether its base products fetch the adapter factors of the
/// low-rank stage toward the cache (`PrefetchPlan`). Whether that pays depends on the machine
/// at the time: on one VM within an hour it saved ~4 ms of a ~48 ms decode step of 32 streams on
/// 32 adapters, and later cost 15–20 ms (lines fetched early were evicted before use by other
/// tenants of the shared cache, and their traffic slowed the product itself). So the tuner
/// measures: over `probePasses` passes that can prefetch, it switches prefetching on and off
/// on alternate passes, keeps the mode with fewer nanoseconds per row for the next `keepPasses`
/// such passes, then probes again. Prefetching never changes results, only timing.
public struct PrefetchTuner: Sendable {
    /// Passes of a probe, alternating with and without prefetching (with first).
    public static let probePasses = 16
    /// Passes that keep the probe's choice before the next probe.
    public static let keepPasses = 496

    /// Passes recorded since the current probe began.
    private var passes = 0
    private var nanosecondsWith: UInt64 = 0, nanosecondsWithout: UInt64 = 0
    private var rowsWith = 0, rowsWithout = 0
    /// The last probe's choice (prefetching until a probe has run).
    public private(set) var keepsPrefetching = true

    public init() {}

    /// Whether the next pass that can prefetch does.
    public var prefetchesNextPass: Bool {
        passes < Self.probePasses ? passes % 2 == 0 : keepsPrefetching
    }

    /// Records a pass that could prefetch, run as `prefetchesNextPass` said: `rows` token rows
    /// in `nanoseconds`.
    public mutating func record(rows: Int, nanoseconds: UInt64) {
        if passes < Self.probePasses {
            if passes % 2 == 0 {
                nanosecondsWith += nanoseconds
                rowsWith += rows
            } else {
                nanosecondsWithout += nanoseconds
                rowsWithout += rows
            }
        }
        passes += 1
        if passes == Self.probePasses {
            keepsPrefetching = Double(nanosecondsWith) / Double(max(1, rowsWith)) <= Double(nanosecondsWithout) / Double(max(1, rowsWithout))
            (nanosecondsWith, nanosecondsWithout, rowsWith, rowsWithout) = (0, 0, 0, 0)
        } else if passes == Self.probePasses + Self.keepPasses {
            passes = 0
        }
    }
}
