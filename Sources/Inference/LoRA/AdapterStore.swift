import Foundation
import Synchronization

/// A catalog of adapters on disk with a resident set bounded by a byte budget.
///
/// `register` validates an adapter and hashes it once; afterwards it is known by id and
/// name, and loading it again skips the hash (its files' size, modification time and inode
/// are checked unchanged instead). Loaded adapters stay resident until the budget needs
/// room, least recently used first. `resident` never waits for disk; `prefetch` loads on a
/// background queue; `load` waits. Thread-safe: the lock is never held during file I/O.
///
/// Eviction only drops the store's reference and accounting: a request holding an adapter
/// keeps it valid (and its memory in use) until it lets go.
public final class AdapterStore: Sendable {
    /// The base model shape every adapter is checked against.
    public let configuration: LlamaConfiguration
    /// Most bytes of resident adapters (`LoRAAdapter.byteCount` summed).
    public let budgetBytes: Int
    private let state = Mutex(State())
    private let loader = DispatchQueue(label: "tributary.adapter-store.loader", qos: .utility)

    private struct Entry {
        var info: AdapterInfo
        let fingerprint: [FileFingerprint]
        var adapter: LoRAAdapter?
        var lastUse: UInt64 = 0
        var loading: LoadTask?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var idsByName: [String: String] = [:]
        var residentBytes = 0
        var clock: UInt64 = 0
        var loads = 0
        var evictions = 0
    }

    /// An empty store for adapters of `configuration`, keeping at most `budgetBytes` resident.
    public init(configuration: LlamaConfiguration, budgetBytes: Int) {
        self.configuration = configuration
        self.budgetBytes = budgetBytes
    }

    /// Validates the adapter at `path` (a PEFT directory or a GGUF LoRA file) and adds it to
    /// the catalog, not resident. `name` defaults to the last path component; ids and names
    /// are unique within a store.
    @discardableResult
    public func register(path: String, name: String? = nil) throws(AdapterError) -> AdapterInfo {
        let before = try FileFingerprint.of(adapterAt: path)
        let adapter = try LoRAAdapter.load(path: path, for: configuration, name: name)
        guard try FileFingerprint.of(adapterAt: path) == before else { throw .changedOnDisk(path) }
        guard adapter.byteCount <= budgetBytes else { throw .exceedsBudget(name: adapter.name, bytes: adapter.byteCount, budgetBytes: budgetBytes) }
        let info = AdapterInfo(adapter, path: path)
        try state.withLock { (state) throws(AdapterError) in
            if let existing = state.entries[info.id] { throw .alreadyRegistered("adapter \(info.id) from \(existing.info.path)") }
            guard state.idsByName[info.name] == nil else { throw .alreadyRegistered("an adapter named \(info.name)") }
            state.entries[info.id] = Entry(info: info, fingerprint: before)
            state.idsByName[info.name] = info.id
        }
        return info
    }

    /// Forgets the adapter `id` and drops it from the resident set. Returns whether it was registered.
    @discardableResult
    public func remove(id: String) -> Bool {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: id) else { return false }
            state.idsByName[entry.info.name] = nil
            if let adapter = entry.adapter { state.residentBytes -= adapter.byteCount }
            return true
        }
    }

    /// The catalog entry of `id`, or nil.
    public func info(id: String) -> AdapterInfo? {
        state.withLock { state in state.entries[id].map { Self.current($0) } }
    }

    /// The catalog entry named `name`, or nil.
    public func info(name: String) -> AdapterInfo? {
        state.withLock { state in state.idsByName[name].flatMap { state.entries[$0] }.map { Self.current($0) } }
    }

    /// Every registered adapter, by name.
    public var adapters: [AdapterInfo] {
        state.withLock { state in state.entries.values.map { Self.current($0) } }.sorted { $0.name < $1.name }
    }

    /// Bytes of the resident adapters.
    public var residentBytes: Int { state.withLock { $0.residentBytes } }

    /// Ids of the resident adapters, most recently used first.
    public var residentIDs: [String] {
        state.withLock { state in state.entries.values.filter { $0.adapter != nil }.sorted { $0.lastUse > $1.lastUse }.map(\.info.id) }
    }

    /// Loads from disk so far, and resident adapters dropped to stay within the budget.
    public var statistics: (loads: Int, evictions: Int) { state.withLock { ($0.loads, $0.evictions) } }

    /// The adapter `id` if it is resident (marking it used), else nil. Never waits for disk.
    public func resident(_ id: String) -> LoRAAdapter? {
        state.withLock { state in
            guard let adapter = state.entries[id]?.adapter else { return nil }
            state.clock += 1
            state.entries[id]!.lastUse = state.clock
            return adapter
        }
    }

    /// Starts loading `id` on a background queue unless it is resident or already loading,
    /// and returns at once. `completion`, if given, receives the outcome — at once if the
    /// adapter is resident or unknown, else on the loading thread.
    public func prefetch(_ id: String, completion: (@Sendable (Result<LoRAAdapter, AdapterError>) -> Void)? = nil) {
        switch begin(id) {
        case let .ready(result): completion?(result)
        case let .waiting(task): if let completion { task.notify(completion) }
        case let .started(task, entry): loader.async { self.perform(task, id: id, entry: entry) }; if let completion { task.notify(completion) }
        }
    }

    /// Returns the adapter `id`, loading it on this thread if needed (or waiting for a load in progress).
    public func load(_ id: String) throws(AdapterError) -> LoRAAdapter {
        switch begin(id) {
        case let .ready(result): return try result.get()
        case let .waiting(task): return try task.wait().get()
        case let .started(task, entry): perform(task, id: id, entry: entry); return try task.wait().get()
        }
    }

    private enum Start {
        case ready(Result<LoRAAdapter, AdapterError>)
        case waiting(LoadTask)
        case started(LoadTask, Entry)
    }

    /// Decides, under the lock, whether `id` is resident, loading, or to be loaded by the caller.
    private func begin(_ id: String) -> Start {
        state.withLock { state in
            guard var entry = state.entries[id] else { return .ready(.failure(.unknownAdapter(id))) }
            state.clock += 1
            entry.lastUse = state.clock
            defer { state.entries[id] = entry }
            if let adapter = entry.adapter { return .ready(.success(adapter)) }
            if let task = entry.loading { return .waiting(task) }
            let task = LoadTask()
            entry.loading = task
            return .started(task, entry)
        }
    }

    /// Reads the files (no lock held), then makes the adapter resident and evicts the least
    /// recently used others until the resident set fits the budget.
    private func perform(_ task: LoadTask, id: String, entry: Entry) {
        let result = Result { () throws(AdapterError) -> LoRAAdapter in
            guard try FileFingerprint.of(adapterAt: entry.info.path) == entry.fingerprint else { throw .changedOnDisk(entry.info.path) }
            return try LoRAAdapter.read(path: entry.info.path, configuration: configuration, name: entry.info.name, identity: .known(id))
        }
        let outcome: Result<LoRAAdapter, AdapterError> = state.withLock { state in
            guard state.entries[id] != nil else { return .failure(.unknownAdapter(id)) }
            state.entries[id]!.loading = nil
            guard case let .success(adapter) = result else { return result }
            state.loads += 1
            state.clock += 1
            state.entries[id]!.adapter = adapter
            state.entries[id]!.lastUse = state.clock
            state.residentBytes += adapter.byteCount
            while state.residentBytes > budgetBytes,
                  let victim = state.entries.values.filter({ $0.adapter != nil && $0.info.id != id }).min(by: { $0.lastUse < $1.lastUse }) {
                state.residentBytes -= victim.adapter!.byteCount
                state.entries[victim.info.id]!.adapter = nil
                state.evictions += 1
            }
            return result
        }
        task.complete(outcome)
    }

    private static func current(_ entry: Entry) -> AdapterInfo {
        var info = entry.info
        info.isResident = entry.adapter != nil
        return info
    }
}

/// One load in progress, which several callers may wait for.
final class LoadTask: Sendable {
    private let finished = DispatchGroup()
    private let state = Mutex<(result: Result<LoRAAdapter, AdapterError>?, waiting: [@Sendable (Result<LoRAAdapter, AdapterError>) -> Void])>((nil, []))

    init() { finished.enter() }

    /// Calls `completion` with the outcome, now if it is known.
    func notify(_ completion: @escaping @Sendable (Result<LoRAAdapter, AdapterError>) -> Void) {
        let known = state.withLock { state in
            if state.result == nil { state.waiting.append(completion) }
            return state.result
        }
        if let known { completion(known) }
    }

    func complete(_ result: Result<LoRAAdapter, AdapterError>) {
        let waiting = state.withLock { state in
            state.result = result
            defer { state.waiting = [] }
            return state.waiting
        }
        finished.leave()
        for completion in waiting { completion(result) }
    }

    func wait() -> Result<LoRAAdapter, AdapterError> {
        finished.wait()
        return state.withLock { $0.result! }
    }
}
