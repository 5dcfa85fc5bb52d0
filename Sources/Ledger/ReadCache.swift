import Synchronization

/// A bounded, thread-safe cache in front of a store, kept exact across commits.
///
/// Values found by reads are remembered, up to `capacity` entries (the oldest insertion is
/// forgotten first); a commit overwrites the entries it wrote. A read that raced a commit must
/// not store what it read, since the commit may have replaced it: every commit advances a
/// generation, and a read only fills the cache if no commit happened since it began.
final class ReadCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var values: [Key: Value?] = [:]
        var order: [Key] = []
        var next = 0
        var generation: UInt64 = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        precondition(capacity > 0, "cache capacity must be positive")
        self.capacity = capacity
    }

    /// The cached value (`.some(nil)` = known absent), or nil on a miss, with the generation
    /// to pass to `fill`.
    func lookup(_ key: Key) -> (hit: Value??, generation: UInt64) {
        state.withLock { ($0.values[key], $0.generation) }
    }

    /// Remembers a value read from the store, unless a commit happened since `generation`.
    func fill(_ key: Key, _ value: Value?, readAt generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            insert(key, value, into: &state)
        }
    }

    /// Records values just committed to the store and invalidates reads in flight.
    func commit(_ writes: some Sequence<(key: Key, value: Value?)>) {
        state.withLock { state in
            state.generation += 1
            for (key, value) in writes { insert(key, value, into: &state) }
        }
    }

    private func insert(_ key: Key, _ value: Value?, into state: inout State) {
        if state.values.updateValue(value, forKey: key) != nil { return }
        if state.order.count < capacity {
            state.order.append(key)
        } else {
            state.values[state.order[state.next]] = nil
            state.order[state.next] = key
            state.next = (state.next + 1) % capacity
        }
    }
}
