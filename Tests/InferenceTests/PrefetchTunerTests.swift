import Inference
import Testing

@Suite struct PrefetchTunerTests {
    /// Feeds one probe: passes with prefetching take `with` nanoseconds for `rows` rows, passes
    /// without take `without`; returns the modes the tuner asked for.
    static func probe(_ tuner: inout PrefetchTuner, with: UInt64, without: UInt64, rows: Int = 32) -> [Bool] {
        (0..<PrefetchTuner.probePasses).map { _ in
            let prefetches = tuner.prefetchesNextPass
            tuner.record(rows: rows, nanoseconds: prefetches ? with : without)
            return prefetches
        }
    }

    @Test func probesAlternatelyThenKeepsTheFasterMode() {
        var tuner = PrefetchTuner()
        #expect(tuner.keepsPrefetching)
        let modes = Self.probe(&tuner, with: 70_000_000, without: 55_000_000)
        #expect(modes == (0..<PrefetchTuner.probePasses).map { $0 % 2 == 0 })
        #expect(!tuner.keepsPrefetching)
        for _ in 0..<PrefetchTuner.keepPasses {
            #expect(!tuner.prefetchesNextPass)
            tuner.record(rows: 32, nanoseconds: 1)  // timings outside a probe change nothing
        }
        // The next probe starts over and can change its mind.
        #expect(Self.probe(&tuner, with: 48_000_000, without: 52_000_000).first == true)
        #expect(tuner.keepsPrefetching)
        #expect(tuner.prefetchesNextPass)
    }

    /// The modes are compared per row, so a probe whose passes differ in size is judged fairly.
    @Test func comparesTimePerRow() {
        var tuner = PrefetchTuner()
        for pass in 0..<PrefetchTuner.probePasses {
            // With: 16 rows in 30 ms (1.9 ms a row); without: 32 rows in 40 ms (1.25 ms a row).
            tuner.record(rows: pass % 2 == 0 ? 16 : 32, nanoseconds: pass % 2 == 0 ? 30_000_000 : 40_000_000)
        }
        #expect(!tuner.keepsPrefetching)
    }
}
