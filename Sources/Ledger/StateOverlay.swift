import Crypto

/// Read access to a committed state.
///
/// Reads cannot fail for a caller: a store that cannot read its own disk stops the process
/// (see `ChainStore`), because a node that executes on a partial view would diverge.
public protocol StateReader: Sendable {
    func value(for key: StateKey) -> [UInt8]?
    /// The first `limit` keys of `kind` present, in encoded-key order.
    func keys(of kind: StateKey.Kind, limit: Int) -> [StateKey]
}

/// Uncommitted changes on top of a committed state: what executing some transactions wrote.
public struct StateOverlay: StateReader {
    public let base: any StateReader
    /// Every key written since `base`, with its new encoded value (nil = deleted).
    public private(set) var writes: [StateKey: [UInt8]?] = [:]

    public init(base: any StateReader) { self.base = base }

    public func value(for key: StateKey) -> [UInt8]? {
        if let written = writes[key] { return written }
        return base.value(for: key)
    }

    /// The base's first keys of `kind` with this overlay's writes applied: deleted keys
    /// dropped, written ones added.
    public func keys(of kind: StateKey.Kind, limit: Int) -> [StateKey] {
        precondition(limit >= 0, "a negative limit")
        let written = writes.filter { $0.key.kind == kind }
        let deleted = Set(written.filter { $0.value == nil }.map(\.key))
        // Enough base keys that `limit` survive the deletions.
        let base = self.base.keys(of: kind, limit: limit + deleted.count).filter { !deleted.contains($0) }
        let added = written.compactMap { $0.value == nil ? nil : $0.key }
        let merged = Set(base + added).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        return Array(merged.prefix(limit))
    }

    public mutating func set(_ key: StateKey, _ value: [UInt8]?) {
        writes[key] = .some(value)
    }

    public mutating func setRecord(_ key: StateKey, _ record: (some CanonicalCodable)?) {
        set(key, record?.canonicalBytes)
    }
}

extension StateReader {
    /// The record at `key` decoded as `T`, or nil if absent. A stored record that does not
    /// decode means the store is corrupt: the process stops.
    public func record<T: CanonicalCodable>(_ key: StateKey, as type: T.Type = T.self) -> T? {
        guard let bytes = value(for: key) else { return nil }
        do {
            return try T(canonicalBytes: bytes)
        } catch {
            fatalError("corrupt state record \(Hex.encode(key.bytes)): \(error)")
        }
    }

    public func account(_ address: Address) -> Account {
        record(.account(address)) ?? Account()
    }

    /// The part of `balance` that `address`'s vesting schedule still locks at `time` (unix
    /// seconds); `balance` minus it is what the account can spend.
    public func lockedPart(of balance: UInt64, of address: Address, at time: UInt64) -> UInt64 {
        min(balance, record(.vesting(address), as: VestingSchedule.self)?.lockedAmount(at: time) ?? 0)
    }
}
