import Foundation
import Synchronization

/// A fixed team of threads that runs one parallel region at a time. The calling thread is
/// member 0; the others spin briefly between regions (a decode step has a few hundred
/// regions, so waking through the kernel each time would dominate) and then sleep.
public final class WorkerPool: Sendable {
    /// Threads in the team, including the caller.
    public let threadCount: Int
    private let shared: Shared

    /// How long an idle worker waits for work (spinning, then yielding) before it sleeps.
    static let spinBeforeSleepNanoseconds: UInt64 = 2_000_000
    /// Busy-wait iterations (tens of microseconds) before a waiting thread starts yielding.
    static let spinsBeforeYield = 20_000

    /// Starts `threadCount − 1` helper threads; they stop when the pool is released.
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "a worker pool needs at least one thread")
        self.threadCount = threadCount
        self.shared = Shared()
        for member in 1..<threadCount {
            let shared = self.shared
            let thread = Thread { shared.work(member: member) }
            thread.name = "inference-\(member)"
            thread.start()
        }
    }

    deinit { shared.stop() }

    /// Runs `body(member)` once on every member of the team and returns when all have finished.
    public func run(_ body: (_ member: Int) -> Void) {
        guard threadCount > 1 else { return body(0) }
        withoutActuallyEscaping(body) { body in shared.run(body, helpers: threadCount - 1) }
    }

    /// Runs `body` on consecutive chunks of `0..<count` (`chunk` long, the last shorter),
    /// handing each chunk to whichever member is free next, so a member slowed down by
    /// another process does not hold the others back.
    /// `body` also receives the member running it, for per-thread buffers.
    public func forEachChunk(_ count: Int, chunk: Int, _ body: (_ member: Int, _ range: Range<Int>) -> Void) {
        precondition(chunk > 0, "chunks must not be empty")
        if threadCount == 1 || count <= chunk {
            for start in stride(from: 0, to: count, by: chunk) { body(0, start..<min(count, start + chunk)) }
            return
        }
        shared.nextChunk.store(0, ordering: .relaxed)
        run { member in
            while true {
                let start = shared.nextChunk.add(chunk, ordering: .relaxed).oldValue
                guard start < count else { return }
                body(member, start..<min(count, start + chunk))
            }
        }
    }

    /// State shared with the worker threads.
    private final class Shared: @unchecked Sendable {
        let generation = Atomic<Int>(0)
        let pending = Atomic<Int>(0)
        let sleepers = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        /// Start of the next unclaimed chunk in `forEachChunk`.
        let nextChunk = Atomic<Int>(0)
        /// The current region's body; written by the caller before `generation` is bumped
        /// and read by workers after they observe the bump.
        nonisolated(unsafe) var job: ((Int) -> Void)?
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            pthread_mutex_destroy(mutex)
            condition.deallocate()
            mutex.deallocate()
        }

        func run(_ body: @escaping (Int) -> Void, helpers: Int) {
            job = body
            pending.store(helpers, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wakeAll() }
            body(0)
            // A helper preempted by another process holds its chunk until it runs again;
            // yielding the core instead of spinning lets it run sooner.
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > WorkerPool.spinsBeforeYield { sched_yield() }
            }
            job = nil
        }

        func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            wakeAll()
        }

        func work(member: Int) {
            var seen = 0
            while true {
                let spinStart = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while generation.load(ordering: .acquiring) == seen {
                    if stopping.load(ordering: .relaxed) { return }
                    spins += 1
                    if spins > WorkerPool.spinsBeforeYield { sched_yield() }
                    if spins & 255 == 0, DispatchTime.now().uptimeNanoseconds - spinStart > WorkerPool.spinBeforeSleepNanoseconds {
                        sleep(while: seen)
                        spins = 0
                    }
                }
                seen = generation.load(ordering: .acquiring)
                if stopping.load(ordering: .relaxed) { return }
                job!(member)
                pending.subtract(1, ordering: .releasing)
            }
        }

        private func sleep(while seen: Int) {
            pthread_mutex_lock(mutex)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            while generation.load(ordering: .sequentiallyConsistent) == seen, !stopping.load(ordering: .sequentiallyConsistent) {
                pthread_cond_wait(condition, mutex)
            }
            sleepers.subtract(1, ordering: .sequentiallyConsistent)
            pthread_mutex_unlock(mutex)
        }

        private func wakeAll() {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
    }
}
