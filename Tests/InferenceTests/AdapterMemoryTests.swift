import Dispatch
import Foundation
import Inference
import Synchronization
import Testing

/// The pool large adapters' storage comes from: reuse, splitting and merging, its limit,
/// its background reserve, and no region handed out twice under concurrent use.
@Suite struct AdapterMemoryTests {
    static let megabyte = 1 << 20
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    @Test func givenMemoryIsReusedFromItsFront() {
        let pool = AdapterMemory(reserveBytes: 0, retainedBytesMax: 16 * Self.megabyte)
        let whole = pool.take(byteCount: 8 * Self.megabyte)!
        #expect(whole.byteCount == 8 * Self.megabyte)
        #expect(Int(bitPattern: whole.base) % (2 * Self.megabyte) == 0, "new regions start on a huge page")
        whole.base.initializeMemory(as: UInt8.self, repeating: 7, count: whole.byteCount)
        pool.give(whole)
        #expect(pool.retainedBytes == 8 * Self.megabyte)

        let first = pool.take(byteCount: 2 * Self.megabyte)!, second = pool.take(byteCount: 1)!
        #expect(first.base == whole.base)
        #expect(second.base == whole.base + 2 * Self.megabyte)
        #expect(second.byteCount == Self.page, "sizes round up to whole pages")
        #expect(second.base.load(as: UInt8.self) == 7, "kept memory stays mapped")
        #expect(pool.retainedBytes == 8 * Self.megabyte - first.byteCount - second.byteCount)
        #expect(pool.largestFreeBytes == pool.retainedBytes)

        // Given back in any order, neighbours merge into the one region they came from.
        pool.give(second)
        pool.give(first)
        #expect(pool.retainedBytes == 8 * Self.megabyte)
        #expect(pool.largestFreeBytes == 8 * Self.megabyte)
        #expect(pool.take(byteCount: 8 * Self.megabyte)?.base == whole.base)
    }

    @Test func thePoolKeepsNoMoreThanItsLimitDroppingSmallRegionsFirst() {
        let mb = Self.megabyte
        let pool = AdapterMemory(reserveBytes: 0, retainedBytesMax: 8 * mb)
        let whole = pool.take(byteCount: 8 * mb)!
        pool.give(whole)
        // Regions of 1, 4 and 1 MB with guards held between and around them, so none merge.
        let pieces = [mb / 2, mb, mb / 2, 4 * mb, mb / 2, mb, mb / 2].map { pool.take(byteCount: $0)! }
        #expect(pieces.first!.base == whole.base && pieces.last!.end == whole.base + 8 * mb)
        for index in [1, 3, 5] { pool.give(pieces[index]) }
        #expect(pool.retainedBytes == 6 * mb && pool.largestFreeBytes == 4 * mb)
        // 5 MB fit no kept region, so they are mapped anew; given back, they push the pool to
        // 11 MB, and the 1, 1 and 4 MB regions go (smallest first) until it holds at most 8.
        let fresh = pool.take(byteCount: 5 * mb)!
        pool.give(fresh)
        #expect(pool.retainedBytes == 5 * mb)
        #expect(pool.take(byteCount: 5 * mb)?.base == fresh.base)
    }

    @Test func aRefillKeepsAReserveAfterLoadsConsumeIt() {
        let pool = AdapterMemory(reserveBytes: 4 * Self.megabyte, retainedBytesMax: 16 * Self.megabyte)
        #expect(pool.retainedBytes == 0, "nothing is mapped before it is needed")
        pool.refillIfLow()
        pool.waitForRefill()
        #expect(pool.retainedBytes == 4 * Self.megabyte)
        let used = pool.take(byteCount: Self.megabyte)!
        pool.refillIfLow()
        pool.waitForRefill()
        #expect(pool.retainedBytes == 3 * Self.megabyte, "3 MB left of the reserve need no refill")
        _ = pool.take(byteCount: 2 * Self.megabyte)!
        pool.refillIfLow()
        pool.waitForRefill()
        #expect(pool.retainedBytes == 5 * Self.megabyte, "1 MB left, so a new 4 MB reserve")
        #expect(pool.largestFreeBytes >= 4 * Self.megabyte)
        pool.give(used)
    }

    @Test func concurrentUsersNeverShareARegion() {
        let pool = AdapterMemory(reserveBytes: 4 * Self.megabyte, retainedBytesMax: 12 * Self.megabyte)
        let threads = 4, rounds = 200
        let overlaps = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var generator = SplitMix64(seed: UInt64(thread + 1))
            for _ in 0..<rounds {
                let bytes = Int.random(in: Self.page...(3 * Self.megabyte), using: &generator)
                guard let region = pool.take(byteCount: bytes) else { continue }
                let words = region.base.bindMemory(to: Int.self, capacity: region.byteCount / 8)
                let stride = Self.page / 8
                for word in Swift.stride(from: 0, to: region.byteCount / 8, by: stride) { words[word] = thread }
                pool.refillIfLow()
                for word in Swift.stride(from: 0, to: region.byteCount / 8, by: stride) where words[word] != thread {
                    overlaps.withLock { $0 += 1 }
                }
                pool.give(region)
            }
        }
        pool.waitForRefill()
        #expect(overlaps.withLock { $0 } == 0)
        #expect(pool.retainedBytes <= pool.retainedBytesMax)
    }
}
