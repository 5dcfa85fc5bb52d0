import Crypto

/// What a node says about itself in a `peers/v1` gossip envelope: the `host:port`s where it
/// accepts connections. The envelope is signed by the node's key and its origin is the node
/// id of every address, so a record can only describe its signer — nobody can point others
/// at a victim's host under the victim's id. Its sequence is the signer's clock (unix ms):
/// receivers keep the newest per node and drop records too old or from the future.
public struct AddressRecord: Hashable, Sendable, CanonicalCodable {
    public static let kind = "peers/v1"
    public static let addressesMax = 4
    public static let addressBytesMax = 255
    /// Records older than this are not believed nor relayed; nodes republish well within it.
    public static let ageMaxMs: UInt64 = 3_600_000
    /// How far ahead of the receiver's clock a record's time may be.
    public static let clockDriftMaxMs: UInt64 = 600_000

    /// `host:port` each (`[v6]:port` for IPv6).
    public let addresses: [String]

    public init(addresses: [String]) {
        precondition(addresses.count <= Self.addressesMax && addresses.allSatisfy { $0.utf8.count <= Self.addressBytesMax })
        self.addresses = addresses
    }

    /// The record signed into an envelope by `nodeKey` at `nowMs`.
    public func envelope(signedBy nodeKey: SigningKey, chainID: String, nowMs: UInt64) -> GossipEnvelope {
        GossipEnvelope(kind: Self.kind, payload: canonicalBytes, sequence: nowMs, signedBy: nodeKey, chainID: chainID)
    }

    /// The addresses an authentic `peers/v1` envelope gives for its origin, if its time is
    /// believable at `nowMs`.
    public static func peerAddresses(in envelope: GossipEnvelope, nowMs: UInt64) throws(AddressRecordError) -> [PeerAddress] {
        guard envelope.kind == kind else { throw AddressRecordError("not a \(kind) envelope") }
        // The sequence is the signer's word: compared without arithmetic on it, which could trap.
        guard nowMs <= ageMaxMs || envelope.sequence >= nowMs - ageMaxMs else { throw AddressRecordError("a record older than \(ageMaxMs / 60_000) minutes") }
        guard envelope.sequence <= nowMs + clockDriftMaxMs else { throw AddressRecordError("a record from the future") }
        let record: AddressRecord
        do { record = try AddressRecord(canonicalBytes: envelope.payload, maxBytes: envelope.payload.count) } catch {
            throw AddressRecordError("an address record that does not decode: \(error)")
        }
        var addresses: [PeerAddress] = []
        for text in record.addresses {
            do {
                let (host, port) = try PeerAddress.splitHostPort(text)
                addresses.append(PeerAddress(id: envelope.origin, host: host, port: port))
            } catch { throw AddressRecordError("address '\(text)': \(error)") }
        }
        return addresses
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(UInt8(addresses.count))
        for address in addresses { writer.write(string: address, max: Self.addressBytesMax) }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        let count = Int(try reader.readUInt8())
        guard count <= Self.addressesMax else { throw .nonCanonical("more than \(Self.addressesMax) addresses in a record") }
        var addresses: [String] = []
        for _ in 0..<count { addresses.append(try reader.readString(max: Self.addressBytesMax, field: "address")) }
        self.addresses = addresses
    }
}

/// Why a `peers/v1` envelope gives no addresses.
public struct AddressRecordError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
