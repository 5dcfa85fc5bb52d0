import Foundation
import Synchronization

/// Anonymous memory for large adapter storage, kept by the process once it is mapped.
///
/// The first touch of memory the process never held is the slowest step of a cold load on
/// a virtual machine whose host backs guest memory lazily (about 1 ms per MB on the test VM,
/// against a fifth of that for memory freed a moment ago; see docs/lora.md). So storage is
/// carved from regions this pool keeps mapped and touched: regions given back by evicted
/// adapters, and reserve regions that a background thread maps and touches ahead of need,
/// after a load has left no free region of half `reserveBytes`. Memory goes back to the system
/// (smallest regions first) only when the pool would hold more than `retainedBytesMax`.
///
/// Regions are page-aligned and whole pages long; new ones start on a huge-page boundary and
/// are advised `MADV_HUGEPAGE`, so the kernel backs them with transparent huge pages.
public final class AdapterMemory: Sendable {
    /// The pool every `AdapterStorage` of `hugePageBytes` or more comes from.
    public static let shared = AdapterMemory(reserveBytes: 32 << 20, retainedBytesMax: 64 << 20)

    /// Size and alignment of a transparent huge page (x86-64's; elsewhere the advice is only a
    /// hint the kernel may ignore).
    static let hugePageBytes = 2 << 20
    static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Size of the region a background refill maps and touches; one runs after a load that
    /// leaves no free region of half this size, so the work follows what loads consume.
    public let reserveBytes: Int
    /// Most bytes the pool keeps; beyond that, its smallest free regions are unmapped.
    public let retainedBytesMax: Int

    /// A page-aligned range of mapped memory, whole pages long.
    public struct Region: @unchecked Sendable {
        public let base: UnsafeMutableRawPointer
        public let byteCount: Int

        /// The first byte after the region.
        public var end: UnsafeMutableRawPointer { base + byteCount }
    }

    private struct State {
        /// Free regions by address, none adjacent to the next (adjacent ones are merged).
        var free: [Region] = []
        var freeBytes = 0
    }

    private let state = Mutex(State())
    private let refiller = Refiller()

    /// A pool that touches memory ahead of need `reserveBytes` (whole huge pages) at a time
    /// and keeps at most `retainedBytesMax` in all.
    public init(reserveBytes: Int, retainedBytesMax: Int) {
        precondition(reserveBytes >= 0 && reserveBytes % Self.hugePageBytes == 0, "the reserve is whole huge pages")
        precondition(retainedBytesMax >= reserveBytes, "the reserve must fit in what the pool retains")
        self.reserveBytes = reserveBytes
        self.retainedBytesMax = retainedBytesMax
    }

    deinit {
        refiller.stop()
        for region in state.withLock({ $0.free }) { munmap(region.base, region.byteCount) }
    }

    /// Bytes mapped and kept for later storage, in use by no adapter.
    public var retainedBytes: Int { state.withLock { $0.freeBytes } }

    /// `byteCount` bytes rounded up to whole pages: the front of the smallest kept region that
    /// holds them, else a new map; nil if the system refuses to map more.
    public func take(byteCount: Int) -> Region? {
        let length = Self.roundedToPages(byteCount)
        let kept: Region? = state.withLock { state in
            guard let index = state.free.indices.filter({ state.free[$0].byteCount >= length })
                .min(by: { state.free[$0].byteCount < state.free[$1].byteCount })
            else { return nil }
            let region = state.free[index]
            if region.byteCount == length {
                state.free.remove(at: index)
            } else {
                state.free[index] = Region(base: region.base + length, byteCount: region.byteCount - length)
            }
            state.freeBytes -= length
            return Region(base: region.base, byteCount: length)
        }
        return kept ?? Self.map(length)
    }

    /// Takes back a region from `take`, merged with free neighbours. If the pool then holds
    /// more than `retainedBytesMax`, its smallest free regions are unmapped until it does not.
    public func give(_ region: Region) {
        let dropped = state.withLock { state in
            var merged = region
            let index = state.free.firstIndex { $0.base > region.base } ?? state.free.endIndex
            var removed = index..<index
            if index < state.free.endIndex, state.free[index].base == merged.end {
                merged = Region(base: merged.base, byteCount: merged.byteCount + state.free[index].byteCount)
                removed = removed.lowerBound..<(index + 1)
            }
            if index > 0, state.free[index - 1].end == merged.base {
                merged = Region(base: state.free[index - 1].base, byteCount: state.free[index - 1].byteCount + merged.byteCount)
                removed = (index - 1)..<removed.upperBound
            }
            state.free.replaceSubrange(removed, with: [merged])
            state.freeBytes += region.byteCount
            var dropped: [Region] = []
            while state.freeBytes > retainedBytesMax, let smallest = state.free.indices.min(by: { state.free[$0].byteCount < state.free[$1].byteCount }) {
                dropped.append(state.free.remove(at: smallest))
                state.freeBytes -= dropped.last!.byteCount
            }
            return dropped
        }
        for region in dropped { munmap(region.base, region.byteCount) }
    }

    /// Returns once no refill is asked for or running.
    public func waitForRefill() {
        refiller.waitUntilIdle()
    }

    /// Asks the refill thread to map and touch a region of `reserveBytes` unless the pool
    /// holds one of half that. Called when a load has filled its storage rather than
    /// when it takes it, so that the refill does not compete with the load it would have
    /// served: touching fresh memory on one core slowed a load's own faults and reads on the
    /// other on the test VM, even at idle priority.
    public func refillIfLow() {
        guard isLow else { return }
        refiller.request { [weak self] in self?.refill() }
    }

    /// Whether no free region holds half a reserve (never, for a pool without one).
    private var isLow: Bool { reserveBytes > 0 && largestFreeBytes < reserveBytes / 2 }

    /// Bytes of the largest free region: the largest storage the pool can give without a new map.
    public var largestFreeBytes: Int { state.withLock { $0.free.map(\.byteCount).max() ?? 0 } }

    private func refill() {
        // Loads may have given memory back since the request.
        guard isLow, let region = Self.map(reserveBytes) else { return }
        Self.touch(region)
        give(region)
    }

    static func roundedToPages(_ byteCount: Int) -> Int {
        (max(1, byteCount) + pageBytes - 1) / pageBytes * pageBytes
    }

    /// Maps `length` bytes (whole pages) of anonymous memory at a huge-page boundary, advised
    /// for huge pages; nil if the system refuses the map.
    private static func map(_ length: Int) -> Region? {
        // Reserve a huge page more than needed, then give back what lies before the boundary and after the end.
        let reserved = length + hugePageBytes
        guard let start = mmap(nil, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), start != MAP_FAILED else { return nil }
        let lead = (hugePageBytes - Int(bitPattern: start) % hugePageBytes) % hugePageBytes
        let aligned = start + lead
        if lead > 0 { munmap(start, lead) }
        munmap(aligned + length, reserved - lead - length)
        madvise(aligned, length, MADV_HUGEPAGE)
        return Region(base: aligned, byteCount: length)
    }

    /// Faults every page of `region` in with a write per page. (`MADV_POPULATE_WRITE` would
    /// hold the process's memory-map lock across the range, and so stall the loads' own map
    /// calls behind this idle-priority thread; a fault takes only its area's lock.)
    private static func touch(_ region: Region) {
        for offset in stride(from: 0, to: region.byteCount, by: pageBytes) {
            region.base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
        }
    }
}

/// The thread that refills a pool's reserve, started on the first request. It runs under
/// `SCHED_IDLE`: it gets a core only when nothing else wants it, so touching fresh memory
/// (slow on a lazily backed VM) never delays loads or decoding that run meanwhile.
private final class Refiller: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var work: (() -> Void)?
    private var isRunning = false
    private var isStopping = false
    private var isStarted = false

    /// Has `work` run on the refill thread soon (once, however often it is requested meanwhile).
    func request(_ work: @escaping () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        self.work = work
        if !isStarted {
            isStarted = true
            let thread = Thread { self.serve() }
            thread.name = "adapter-memory"
            thread.start()
        }
        condition.broadcast()
    }

    func waitUntilIdle() {
        condition.lock()
        while work != nil || isRunning { condition.wait() }
        condition.unlock()
    }

    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func serve() {
        // SCHED_IDLE of linux/sched.h, which glibc declares only for _GNU_SOURCE; a failure
        // leaves the thread at normal priority.
        let idlePolicy: Int32 = 5
        var parameters = sched_param()
        sched_setscheduler(0, idlePolicy, &parameters)
        condition.lock()
        while true {
            while work == nil && !isStopping { condition.wait() }
            guard !isStopping, let next = work else { break }
            work = nil
            isRunning = true
            condition.unlock()
            next()
            condition.lock()
            isRunning = false
            condition.broadcast()
        }
        condition.unlock()
    }
}
