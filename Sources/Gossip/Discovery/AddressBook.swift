import Crypto

/// The peer addresses a node knows, with how dialing each went: where it looks for peers
/// beyond its persistent ones. A value type with no I/O; the node persists its `entries`.
///
/// Bounded by `Limits.entriesMax`: beyond, the entry that failed most (then the one heard of
/// longest ago) goes. Dialing an address that failed waits a backoff that doubles per failure
/// up to `Limits.dialBackoffLastMs`, with jitter the caller supplies. Candidates to dial are
/// chosen for diversity: hosts the node is not connected to come first, one address per host
/// before a second, and among those the best dial record.
public struct AddressBook: Sendable {
    public struct Limits: Sendable {
        public var entriesMax = 1_000
        /// Addresses of one host kept at most (one machine cannot fill the book).
        public var entriesPerHostMax = 8
        public var dialBackoffFirstMs: UInt64 = 1_000
        public var dialBackoffLastMs: UInt64 = 600_000

        public init() {}
    }

    public struct Entry: Sendable, Equatable {
        public var address: PeerAddress
        public var successes: UInt32 = 0
        public var failures: UInt32 = 0
        /// When the address was last heard of (unix ms).
        public var heardMs: UInt64
        /// Not dialed before this time (unix ms).
        public var nextDialMs: UInt64 = 0

        public init(address: PeerAddress, successes: UInt32 = 0, failures: UInt32 = 0, heardMs: UInt64, nextDialMs: UInt64 = 0) {
            self.address = address
            self.successes = successes
            self.failures = failures
            self.heardMs = heardMs
            self.nextDialMs = nextDialMs
        }

        /// Higher is better: successes count, failures count double.
        var merit: Int64 { Int64(successes) - 2 * Int64(failures) }
    }

    public let limits: Limits
    public let ownID: NodeID
    public private(set) var entries: [NodeID: Entry] = [:]

    public init(ownID: NodeID, entries: [Entry] = [], limits: Limits = Limits()) {
        self.limits = limits
        self.ownID = ownID
        for entry in entries where entry.address.id != ownID { self.entries[entry.address.id] = entry }
        while self.entries.count > limits.entriesMax { evictWorst() }
    }

    public var count: Int { entries.count }

    /// Learns (or refreshes) where `address.id` is; never the node itself.
    public mutating func add(_ address: PeerAddress, nowMs: UInt64) {
        guard address.id != ownID else { return }
        if var known = entries[address.id] {
            if known.address != address {
                known.address = address
                known.failures = 0
                known.nextDialMs = 0
            }
            known.heardMs = max(known.heardMs, nowMs)
            entries[address.id] = known
            return
        }
        let sameHost = entries.values.filter { $0.address.host == address.host }
        if sameHost.count >= limits.entriesPerHostMax, let worst = sameHost.min(by: Self.worseThan) {
            entries[worst.address.id] = nil
        }
        entries[address.id] = Entry(address: address, heardMs: nowMs)
        while entries.count > limits.entriesMax { evictWorst() }
        assert(entries.count <= limits.entriesMax && entries[ownID] == nil)
    }

    /// A connection to `id` was established: its dial record improves and it may be dialed again at once.
    public mutating func succeeded(_ id: NodeID, nowMs: UInt64) {
        guard var entry = entries[id] else { return }
        entry.successes &+= 1
        entry.failures = 0
        entry.heardMs = max(entry.heardMs, nowMs)
        entry.nextDialMs = 0
        entries[id] = entry
    }

    /// Dialing `id` failed; `jitter` (0 ... 1) spreads the retries of many nodes.
    public mutating func failed(_ id: NodeID, nowMs: UInt64, jitter: Double) {
        guard var entry = entries[id] else { return }
        entry.failures &+= 1
        let exponent = UInt64(min(entry.failures - 1, 20))
        let backoff = min(limits.dialBackoffLastMs, limits.dialBackoffFirstMs << exponent)
        entry.nextDialMs = nowMs + backoff + UInt64(Double(backoff / 4) * min(max(jitter, 0), 1))
        entries[id] = entry
    }

    /// A dial of `id` started: not chosen again until it ends (`succeeded` or `failed`), or
    /// `holdMs` passes.
    public mutating func dialing(_ id: NodeID, nowMs: UInt64, holdMs: UInt64) {
        entries[id]?.nextDialMs = nowMs + holdMs
    }

    /// Up to `count` addresses to dial now: none in `excluding`, none backing off; hosts in
    /// `connectedHosts` last, each host once before any twice, the best record first.
    public func dialCandidates(count: Int, excluding: Set<NodeID>, connectedHosts: Set<String>, nowMs: UInt64) -> [PeerAddress] {
        let ready = entries.values.filter { !excluding.contains($0.address.id) && $0.nextDialMs <= nowMs }
        let ranked = ready.sorted { a, b in
            let aConnected = connectedHosts.contains(a.address.host), bConnected = connectedHosts.contains(b.address.host)
            if aConnected != bConnected { return !aConnected }
            return Self.worseThan(b, a)
        }
        var chosen: [PeerAddress] = []
        var hosts = Set<String>()
        for entry in ranked where chosen.count < count && hosts.insert(entry.address.host).inserted { chosen.append(entry.address) }
        for entry in ranked where chosen.count < count && !chosen.contains(entry.address) { chosen.append(entry.address) }
        return chosen
    }

    /// Whether `a` is a worse entry than `b`: lower merit, then heard of longer ago, then by id.
    private static func worseThan(_ a: Entry, _ b: Entry) -> Bool {
        if a.merit != b.merit { return a.merit < b.merit }
        if a.heardMs != b.heardMs { return a.heardMs < b.heardMs }
        return a.address.id < b.address.id
    }

    private mutating func evictWorst() {
        guard let worst = entries.values.min(by: Self.worseThan) else { return }
        entries[worst.address.id] = nil
    }
}
