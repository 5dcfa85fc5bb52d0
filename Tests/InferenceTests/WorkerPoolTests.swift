import Foundation
import Inference
import Testing

@Suite struct WorkerPoolTests {
    /// Every index is handed out exactly once, whatever the chunk size, across many regions.
    @Test func chunksCoverEveryIndexOnce() {
        let pool = WorkerPool(threadCount: 3)
        let count = 1_000
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { hits.deallocate() }
        for chunk in [1, 7, 64, 999, 1_000, 5_000] {
            for _ in 0..<200 {
                hits.initialize(repeating: 0)
                pool.forEachChunk(count, chunk: chunk) { _, range in
                    for index in range { hits[index] += 1 }
                }
                #expect(hits.allSatisfy { $0 == 1 }, "chunk \(chunk)")
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
