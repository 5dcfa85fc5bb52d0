/// At most `capacity` values by key, the most recently used first: a hit moves its value to
/// the front, and a value loaded past the capacity evicts the least recently used. A serving
/// node keeps its adapters' `Attributor`s in one, since each costs seconds to load.
public struct RecentlyUsed<Value> {
    public let capacity: Int
    private var entries: [(key: String, value: Value)] = []

    public init(capacity: Int) {
        precondition(capacity >= 1, "a cache holds at least one value")
        self.capacity = capacity
    }

    /// Keys held, the most recently used first.
    public var keys: [String] { entries.map(\.key) }

    /// The value for `key`, from `load` when it is not held.
    public mutating func value(for key: String, load: () throws -> Value) rethrows -> Value {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            let hit = entries.remove(at: index)
            entries.insert(hit, at: 0)
            return hit.value
        }
        let value = try load()
        entries.insert((key, value), at: 0)
        if entries.count > capacity { entries.removeLast() }
        assert(entries.count <= capacity, "the cache outgrew its capacity")
        return value
    }
}
