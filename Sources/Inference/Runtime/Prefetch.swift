import CPrefetch

/// Memory a later, memory-bound stage will read (the LoRA factors of a projection's
/// adapters), fetched toward the cache while an earlier, compute-bound stage (the base
/// product) runs, so that the two overlap instead of taking turns.
///
/// The ranges are taken end to end and dealt out in proportion to the earlier stage's work:
/// the part of the work from fraction `f` to `g` prefetches bytes `f·total ..< g·total`.
final class PrefetchPlan: @unchecked Sendable {
    static let lineBytes = 64

    /// The ranges, then one empty range at their end.
    private let ranges: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>
    /// `starts[i]`: bytes of the ranges before range `i`.
    private let starts: [Int]
    /// Bytes of all ranges.
    let totalBytes: Int

    static let none = PrefetchPlan([])

    init(_ ranges: [UnsafeRawBufferPointer]) {
        let kept = ranges.filter { $0.count > 0 }
        self.ranges = .allocate(capacity: kept.count + 1)
        _ = self.ranges.initialize(from: kept + [UnsafeRawBufferPointer(start: nil, count: 0)])
        var starts: [Int] = [], total = 0
        for range in kept {
            starts.append(total)
            total += range.count
        }
        self.starts = starts
        self.totalBytes = total
    }

    deinit { ranges.deallocate() }

    /// A cursor over the share of `part` out of `whole` units of work, fetching its lines
    /// evenly over `steps` calls of `PrefetchCursor.advance`. The plan must outlive it.
    func cursor(part: Range<Int>, of whole: Int, steps: Int) -> PrefetchCursor {
        guard totalBytes > 0, whole > 0, !part.isEmpty else { return PrefetchCursor() }
        let start = part.lowerBound * totalBytes / whole, end = part.upperBound * totalBytes / whole
        let lines = (end - start + Self.lineBytes - 1) / Self.lineBytes
        var low = 0, high = starts.count - 1
        while low < high {  // the last range starting at or before `start`
            let middle = (low + high + 1) / 2
            if starts[middle] <= start { low = middle } else { high = middle - 1 }
        }
        let range = UnsafePointer(ranges.baseAddress! + low)
        return PrefetchCursor(
            range: range, next: range.pointee.baseAddress! + (start - starts[low]), linesLeft: lines,
            linesPerStep: (lines + max(1, steps) - 1) / max(1, steps))
    }
}

/// One worker's walk through its share of a `PrefetchPlan`.
struct PrefetchCursor {
    private var range: UnsafePointer<UnsafeRawBufferPointer>?
    private var next: UnsafeRawPointer?
    private var linesLeft = 0
    private var linesPerStep = 0

    /// A cursor that fetches nothing.
    init() {}

    init(range: UnsafePointer<UnsafeRawBufferPointer>, next: UnsafeRawPointer, linesLeft: Int, linesPerStep: Int) {
        self.range = range
        self.next = next
        self.linesLeft = linesLeft
        self.linesPerStep = linesPerStep
    }

    /// Prefetches the next step's lines of the share.
    @inline(__always)
    mutating func advance() {
        guard linesLeft > 0 else { return }
        var count = min(linesPerStep, linesLeft)
        linesLeft -= count
        while count > 0, var range, var next {
            let end = range.pointee.baseAddress! + range.pointee.count
            if next >= end {
                range += 1
                guard let start = range.pointee.baseAddress else { linesLeft = 0; return }
                next = start
                self.range = range
            }
            tributary_prefetch(next)
            self.next = next + PrefetchPlan.lineBytes
            count -= 1
        }
    }
}
