import Foundation
import Synchronization

/// A fixed team of threads that runs one parallel region at a time. The calling thread is
/// member 0. Waiting threads — helpers between regions, the caller for the helpers — spin
/// for a few tens of microseconds (a decode step has a few hundred regions, so waking
/// through the kernel each time would dominate) and then sleep until signalled. Sleeping
/// rather than yielding matters when other processes share the cores: a woken thread
/// preempts a background process at once, a yielding one queues behind it.
public final class WorkerPool: Sendable {
    /// Threads in the team, including the caller.
    public let threadCount: Int
    private let shared: Shared

    /// Busy-wait iterations (tens of microseconds) before a waiting thread sleeps.
    static let spinsBeforeSleep = 50_000

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

    /// Runs `body` on consecutive chunks of `0..<count` handed to whichever member is free
    /// next, each about `1 / (2 · threadCount)` of what is left when it is claimed (a multiple
    /// of `granularity`, at least one), so chunks shrink as the work runs out and the members
    /// finish close together (guided scheduling): the last chunks, not an eighth of the work,
    /// decide how long the others wait.
    public func forEachGuidedChunk(_ count: Int, granularity: Int, _ body: (_ member: Int, _ range: Range<Int>) -> Void) {
        precondition(granularity > 0, "chunks must not be empty")
        guard count > 0 else { return }
        guard threadCount > 1, count > granularity else { return body(0, 0..<count) }
        let divisor = 2 * threadCount
        shared.nextChunk.store(0, ordering: .relaxed)
        run { member in
            var start = shared.nextChunk.load(ordering: .relaxed)
            while start < count {
                let left = count - start
                let size = min(left, max(1, (left / divisor + granularity - 1) / granularity) * granularity)
                let (claimed, current) = shared.nextChunk.compareExchange(expected: start, desired: start + size, ordering: .relaxed)
                guard claimed else { start = current; continue }
                body(member, start..<start + size)
                start = shared.nextChunk.load(ordering: .relaxed)
            }
        }
    }

    /// State shared with the worker threads.
    private final class Shared: @unchecked Sendable {
        let generation = Atomic<Int>(0)
        let pending = Atomic<Int>(0)
        let sleepers = Atomic<Int>(0)
        /// Whether the caller sleeps until `pending` reaches zero.
        let callerSleeping = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        /// Start of the next unclaimed chunk in `forEachChunk` and `forEachGuidedChunk`.
        let nextChunk = Atomic<Int>(0)
        /// The current region's body; written by the caller before `generation` is bumped
        /// and read by workers after they observe the bump.
        nonisolated(unsafe) var job: ((Int) -> Void)?
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        /// Signalled when a region starts or the pool stops (helpers wait on it).
        let work = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        /// Signalled when the last helper finishes a region (the caller waits on it).
        let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(work, nil)
            pthread_cond_init(done, nil)
        }

        deinit {
            pthread_cond_destroy(done)
            pthread_cond_destroy(work)
            pthread_mutex_destroy(mutex)
            done.deallocate()
            work.deallocate()
            mutex.deallocate()
        }

        func run(_ body: @escaping (Int) -> Void, helpers: Int) {
            job = body
            pending.store(helpers, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 { signal(work, all: true) }
            body(0)
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                guard spins > WorkerPool.spinsBeforeSleep else { continue }
                // A helper preempted by another process holds its chunk until it runs again.
                pthread_mutex_lock(mutex)
                callerSleeping.store(true, ordering: .sequentiallyConsistent)
                while pending.load(ordering: .sequentiallyConsistent) > 0 { pthread_cond_wait(done, mutex) }
                callerSleeping.store(false, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            job = nil
        }

        func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            signal(work, all: true)
        }

        func work(member: Int) {
            var seen = 0
            while true {
                var spins = 0
                while generation.load(ordering: .acquiring) == seen {
                    if stopping.load(ordering: .relaxed) { return }
                    spins += 1
                    if spins > WorkerPool.spinsBeforeSleep {
                        sleep(while: seen)
                        spins = 0
                    }
                }
                seen = generation.load(ordering: .acquiring)
                if stopping.load(ordering: .relaxed) { return }
                job!(member)
                if pending.subtract(1, ordering: .sequentiallyConsistent).newValue == 0,
                   callerSleeping.load(ordering: .sequentiallyConsistent) {
                    signal(done, all: false)
                }
            }
        }

        private func sleep(while seen: Int) {
            pthread_mutex_lock(mutex)
            sleepers.add(1, ordering: .sequentiallyConsistent)
            while generation.load(ordering: .sequentiallyConsistent) == seen, !stopping.load(ordering: .sequentiallyConsistent) {
                pthread_cond_wait(work, mutex)
            }
            sleepers.subtract(1, ordering: .sequentiallyConsistent)
            pthread_mutex_unlock(mutex)
        }

        private func signal(_ condition: UnsafeMutablePointer<pthread_cond_t>, all: Bool) {
            pthread_mutex_lock(mutex)
            if all { pthread_cond_broadcast(condition) } else { pthread_cond_signal(condition) }
            pthread_mutex_unlock(mutex)
        }
    }
}
