import Foundation
import Inference
import Synchronization
import Testing

@Suite struct WorkerPoolTests {
    static let count = 1_000

    /// The ranges one region handed out (`region` passes each to its argument, from any
    /// thread), and how many of them hold each index of `0..<count`.
    static func handedOut(_ region: (@escaping (Range<Int>) -> Void) -> Void) -> (hits: [Int], chunks: [Range<Int>]) {
        let chunks = Mutex<[Range<Int>]>([])
        region { range in chunks.withLock { $0.append(range) } }
        var hits = [Int](repeating: 0, count: count)
        let handed = chunks.withLock { $0 }
        for range in handed { for index in range { hits[index] += 1 } }
        return (hits, handed)
    }

    /// Every index is handed out exactly once, whatever the chunk size, across many regions.
    @Test func chunksCoverEveryIndexOnce() {
        let pool = WorkerPool(threadCount: 3)
        for chunk in [1, 7, 64, 999, 1_000, 5_000] {
            for _ in 0..<200 {
                let (hits, _) = Self.handedOut { visit in pool.forEachChunk(Self.count, chunk: chunk) { _, range in visit(range) } }
                #expect(hits.allSatisfy { $0 == 1 }, "chunk \(chunk)")
            }
        }
    }

    /// Guided chunks cover every index once; each starts on a multiple of the granularity,
    /// and no chunk is longer than a `1 / (2 · threads)` share of what was left before it
    /// (rounded up to the granularity), so the last ones are short.
    @Test func guidedChunksCoverEveryIndexOnceAndShrink() {
        let pool = WorkerPool(threadCount: 3)
        for granularity in [1, 16, 100, 999, 1_000, 5_000] {
            for _ in 0..<200 {
                let (hits, chunks) = Self.handedOut { visit in pool.forEachGuidedChunk(Self.count, granularity: granularity) { _, range in visit(range) } }
                #expect(hits.allSatisfy { $0 == 1 }, "granularity \(granularity)")
                for range in chunks {
                    let left = Self.count - range.lowerBound
                    let share = max(1, (left / 6 + granularity - 1) / granularity) * granularity
                    #expect(range.lowerBound % granularity == 0 && range.count <= share, "\(range) at granularity \(granularity)")
                }
            }
        }
    }

    /// Helpers asleep after an idle pause wake for the next region, and a caller that
    /// finished first sleeps until a slow helper is done.
    @Test func sleepingHelpersAndCallerWake() {
        let pool = WorkerPool(threadCount: 2)
        for round in 0..<20 {
            if round % 2 == 0 { usleep(20_000) }
            let finished = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 2)
            defer { finished.deallocate() }
            finished.initialize(repeating: false)
            pool.run { member in
                if member == 1, round % 3 == 0 { usleep(10_000) }
                finished[member] = true
            }
            #expect(finished[0] && finished[1], "round \(round)")
        }
    }
}
