import Crypto
import Foundation
import Gossip

/// Peer exchange for `GossipService`: the address book, the newest `peers/v1` record of each
/// node (gossiped to every peer that connects — that is the exchange — and relayed when new),
/// this node's own record, and which addresses to dial to keep `outbound_peers_max` outbound
/// connections, with the seeds as the last resort. Touched only on the gossip queue.
struct PeerDiscovery {
    /// Newest records kept (and handed to each new peer).
    static let recordsMax = 256
    static let republishMs: UInt64 = 600_000
    static let seedRedialMs: UInt64 = 30_000
    /// A dial counts as pending this long at most.
    static let dialHoldMs: UInt64 = 15_000

    let nodeKey: SigningKey
    let chainID: String
    let seeds: [PeerAddress]
    /// Where this node tells others to dial it; nil: it does not advertise itself.
    let advertised: String?
    let file: AddressBookFile?
    private(set) var book: AddressBook
    private var records: [NodeID: (sequence: UInt64, item: GossipItem)] = [:]
    private var publishedMs: UInt64 = 0
    private var seedsDialedMs: UInt64 = 0
    private var savedBook: [NodeID: AddressBook.Entry] = [:]
    private var random = SystemRandomNumberGenerator()

    init(nodeKey: SigningKey, chainID: String, seeds: [PeerAddress], advertised: String?, file: AddressBookFile?) throws {
        self.nodeKey = nodeKey
        self.chainID = chainID
        self.seeds = seeds
        self.advertised = advertised
        self.file = file
        book = AddressBook(ownID: nodeKey.publicKey, entries: try file?.load() ?? [])
        savedBook = book.entries
    }

    /// The records every peer should hold: sent to a peer when it connects.
    var liveRecords: [GossipItem] { records.values.sorted { $0.sequence < $1.sequence }.map(\.item) }

    /// This node's own record when it is due (at start, then every `republishMs`).
    mutating func ownRecordIfDue(nowMs: UInt64) -> GossipItem? {
        guard let advertised, nowMs >= publishedMs + Self.republishMs else { return nil }
        publishedMs = nowMs
        let envelope = AddressRecord(addresses: [advertised]).envelope(signedBy: nodeKey, chainID: chainID, nowMs: nowMs)
        let item = GossipItem(channel: .envelopes, bytes: envelope.canonicalBytes)
        records[nodeKey.publicKey] = (envelope.sequence, item)
        return item
    }

    /// An authentic `peers/v1` envelope from a peer: true when it is news (newer than the
    /// record kept for its node) — its addresses go into the book and it is relayed.
    mutating func recordArrived(_ envelope: GossipEnvelope, item: GossipItem, nowMs: UInt64) -> Bool {
        guard envelope.origin != nodeKey.publicKey, (records[envelope.origin]?.sequence ?? 0) < envelope.sequence,
              let addresses = try? AddressRecord.peerAddresses(in: envelope, nowMs: nowMs)
        else { return false }
        for address in addresses { book.add(address, nowMs: nowMs) }
        records[envelope.origin] = (envelope.sequence, item)
        if records.count > Self.recordsMax, let oldest = records.min(by: { $0.value.sequence < $1.value.sequence })?.key {
            records[oldest] = nil
        }
        return true
    }

    /// The addresses to dial now so that outbound connections reach `outboundMax`: from the
    /// book (diverse hosts first), else the seeds (at most every `seedRedialMs`).
    mutating func dials(outbound: Int, outboundMax: Int, connected: Set<NodeID>, connectedHosts: Set<String>,
                        isBanned: (NodeID) -> Bool, nowMs: UInt64) -> [PeerAddress] {
        guard outbound < outboundMax else { return [] }
        let excluded = connected.union(book.entries.keys.filter(isBanned))
        var chosen = book.dialCandidates(count: outboundMax - outbound, excluding: excluded, connectedHosts: connectedHosts, nowMs: nowMs)
        for address in chosen { book.dialing(address.id, nowMs: nowMs, holdMs: Self.dialHoldMs) }
        if chosen.isEmpty, outbound == 0, !seeds.isEmpty, nowMs >= seedsDialedMs + Self.seedRedialMs {
            seedsDialedMs = nowMs
            chosen = seeds.filter { !connected.contains($0.id) && !isBanned($0.id) }
        }
        return chosen
    }

    mutating func connected(_ peer: NodeID, outbound: Bool, nowMs: UInt64) {
        if outbound { book.succeeded(peer, nowMs: nowMs) }
    }

    mutating func dialFailed(_ address: PeerAddress, nowMs: UInt64) {
        book.failed(address.id, nowMs: nowMs, jitter: Double.random(in: 0...1, using: &random))
    }

    /// Writes the book if it changed since the last save.
    mutating func save() throws {
        guard let file, book.entries != savedBook else { return }
        try file.save(Array(book.entries.values))
        savedBook = book.entries
    }
}

/// The address book kept in `<home>/addrbook.json`: `{"addresses": [{"address":
/// "<id>@<host>:<port>", "successes", "failures", "heard_ms", "next_dial_ms"}]}`.
struct AddressBookFile {
    private struct Contents: Codable {
        struct Entry: Codable {
            let address: String
            let successes: UInt32
            let failures: UInt32
            let heard_ms: UInt64
            let next_dial_ms: UInt64
        }

        var addresses: [Entry]
    }

    let path: String

    func load() throws -> [AddressBook.Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        do {
            return try JSONDecoder().decode(Contents.self, from: data).addresses.map { entry in
                AddressBook.Entry(address: try PeerAddress(parsing: entry.address), successes: entry.successes, failures: entry.failures,
                                  heardMs: entry.heard_ms, nextDialMs: entry.next_dial_ms)
            }
        } catch { throw CommandError("\(path) is not an address book: \(error)") }
    }

    func save(_ entries: [AddressBook.Entry]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let contents = Contents(addresses: entries.sorted { $0.address.id < $1.address.id }.map {
            .init(address: $0.address.description, successes: $0.successes, failures: $0.failures, heard_ms: $0.heardMs,
                  next_dial_ms: $0.nextDialMs)
        })
        try encoder.encode(contents).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
