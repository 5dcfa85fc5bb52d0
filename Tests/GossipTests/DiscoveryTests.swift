import Crypto
import Gossip
import Testing

/// Peer exchange without sockets: the address book's choices and limits, and address records.
@Suite struct DiscoveryTests {
    let own = SigningKey().publicKey

    func address(_ host: String, _ port: UInt16 = 26656, id: NodeID = SigningKey().publicKey) -> PeerAddress {
        PeerAddress(id: id, host: host, port: port)
    }

    @Test func candidatesPreferHostsNotConnectedAndOneAddressPerHostFirst() {
        var book = AddressBook(ownID: own)
        let a1 = address("10.0.0.1", 1), a2 = address("10.0.0.1", 2), b = address("10.0.0.2"), c = address("10.0.0.3")
        for entry in [a1, a2, b, c] { book.add(entry, nowMs: 1) }
        let chosen = book.dialCandidates(count: 3, excluding: [], connectedHosts: ["10.0.0.3"], nowMs: 1)
        #expect(chosen.count == 3)
        #expect(Set(chosen.prefix(2).map(\.host)) == ["10.0.0.1", "10.0.0.2"])
        #expect(chosen[2].host == "10.0.0.3")
        #expect(book.dialCandidates(count: 4, excluding: [b.id], connectedHosts: [], nowMs: 1).count == 3)
    }

    @Test func aFailedAddressBacksOffAndASuccessfulOneComesFirst() {
        var book = AddressBook(ownID: own)
        let good = address("10.0.0.1"), bad = address("10.0.0.2")
        book.add(good, nowMs: 0)
        book.add(bad, nowMs: 0)
        book.succeeded(good.id, nowMs: 10)
        book.failed(bad.id, nowMs: 10, jitter: 0)
        #expect(book.dialCandidates(count: 2, excluding: [], connectedHosts: [], nowMs: 500) == [good])
        // Backoff doubles per failure: 1 s, then 2 s.
        #expect(book.dialCandidates(count: 2, excluding: [], connectedHosts: [], nowMs: 1_010) == [good, bad])
        book.failed(bad.id, nowMs: 1_010, jitter: 1)
        #expect(book.entries[bad.id]!.nextDialMs == 1_010 + 2_000 + 500)
        book.dialing(good.id, nowMs: 1_010, holdMs: 15_000)
        #expect(book.dialCandidates(count: 2, excluding: [], connectedHosts: [], nowMs: 2_000).isEmpty)
    }

    @Test func theBookIsBoundedInAllAndPerHostAndNeverHoldsItsOwner() {
        var limits = AddressBook.Limits()
        limits.entriesMax = 5
        limits.entriesPerHostMax = 2
        var book = AddressBook(ownID: own, limits: limits)
        book.add(address("10.0.0.9", id: own), nowMs: 0)
        #expect(book.count == 0)
        for port in 1...4 { book.add(address("10.0.0.1", UInt16(port)), nowMs: UInt64(port)) }
        #expect(book.count == 2)
        for host in 2...9 { book.add(address("10.0.0.\(host)"), nowMs: 100) }
        #expect(book.count == 5)
        let moved = address("10.0.0.2")
        book.add(moved, nowMs: 200)
        book.add(PeerAddress(id: moved.id, host: "10.0.1.2", port: 1), nowMs: 300)
        #expect(book.entries[moved.id]?.address.host == "10.0.1.2")
    }

    @Test func recordsDescribeOnlyTheirSignerAndOnlyWhileFresh() throws {
        let node = SigningKey()
        let now: UInt64 = 1_800_000_000_000
        let envelope = AddressRecord(addresses: ["127.0.0.1:26656", "[::1]:26656"]).envelope(signedBy: node, chainID: "c", nowMs: now)
        #expect(envelope.isAuthentic(chainID: "c"))
        let addresses = try AddressRecord.peerAddresses(in: envelope, nowMs: now + 1)
        #expect(addresses == [PeerAddress(id: node.publicKey, host: "127.0.0.1", port: 26656),
                              PeerAddress(id: node.publicKey, host: "::1", port: 26656)])
        #expect(throws: AddressRecordError.self) { try AddressRecord.peerAddresses(in: envelope, nowMs: now + AddressRecord.ageMaxMs + 1) }
        #expect(throws: AddressRecordError.self) {
            try AddressRecord.peerAddresses(in: envelope, nowMs: now - AddressRecord.clockDriftMaxMs - 1)
        }
        // A sequence at the end of UInt64 (anyone can sign one) is from the future, not a trap.
        let last = AddressRecord(addresses: ["127.0.0.1:26656"]).envelope(signedBy: node, chainID: "c", nowMs: .max - 1_000)
        #expect(throws: AddressRecordError.self) { try AddressRecord.peerAddresses(in: last, nowMs: now) }
        // Another node cannot re-sign the record under the first node's id.
        let forged = GossipEnvelope(kind: envelope.kind, payload: envelope.payload, origin: node.publicKey, sequence: now + 5,
                                    signature: SigningKey().sign(envelope.payload, domain: .envelope, chainID: "c"))
        #expect(!forged.isAuthentic(chainID: "c"))
        let bad = GossipEnvelope(kind: AddressRecord.kind, payload: AddressRecord(addresses: ["no port"]).canonicalBytes,
                                 sequence: now, signedBy: node, chainID: "c")
        #expect(throws: AddressRecordError.self) { try AddressRecord.peerAddresses(in: bad, nowMs: now) }
    }
}
