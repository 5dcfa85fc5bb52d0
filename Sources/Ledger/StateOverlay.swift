import Crypto

/// Read access to a committed state.
///
/// Reads cannot fail for a caller: a store that cannot read its own disk stops the process
/// (see `ChainStore`), because a node that executes on a partial view would diverge.
public protocol StateReader: Sendable {
    func value(for key: StateKey) -> [UInt8]?
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
}
