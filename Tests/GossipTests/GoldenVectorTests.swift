import Crypto
import Gossip
import Testing

/// Checked-in bytes and hashes of what peers exchange and sign: the hello, the handshake
/// transcript, a gossip envelope and a wire message. See `LedgerGoldenVectorTests`; a change
/// here means nodes of the new version cannot talk to the old: bump `Handshake.protocolVersion`.
@Suite struct GossipGoldenVectorTests {
    static let chainID = "golden"
    static let nodeKey = SigningKey(seed: Digest.blake2b(Array("golden node".utf8)).bytes)!
    static let dialerKey = Digest.blake2b(Array("golden dialer ephemeral".utf8)).bytes32
    static let listenerKey = Digest.blake2b(Array("golden listener ephemeral".utf8)).bytes32

    @Test func hello() {
        let hello = Hello(version: Handshake.protocolVersion, chainID: Self.chainID, ephemeralKey: Self.dialerKey)
        #expect(Hex.encode(hello.bytes) == "54524259000106676f6c64656e928a6010acb20f74c310624db7bdbc00f98e453e64b371183913f4a9947b1c83")
    }

    @Test func handshakeTranscript() {
        let transcript = Handshake.transcript(version: Handshake.protocolVersion, chainID: Self.chainID,
                                              dialerKey: Self.dialerKey, listenerKey: Self.listenerKey)
        #expect(transcript.hex == "e9f4552fe15d49c56f960e4088c57d6f7f7b0b9fb36da774a69e806c6751eecb")
    }

    @Test func envelope() {
        let envelope = GossipEnvelope(kind: "peers/v1", payload: [1, 2, 3], sequence: 9, signedBy: Self.nodeKey, chainID: Self.chainID)
        #expect(Hex.encode(envelope.canonicalBytes) == "0000000870656572732f763100000003010203b97d02cd4ebcb4864d310f37c49308d6939b7e7fc4aebc93d7354074844a73ac000000000000000937f80ad01bf36d2c431657deb791fd2e01f14bd2353fcc59ff10da1eec08d0148116345391789d4b596d3f4fd9edb02ef3266dd275ee39cc419ac4984feeb100")
        #expect(GossipItem(channel: .envelopes, bytes: envelope.canonicalBytes).id.hex == "e1b2701862023931acaa7b99542609def5aab93991885cdc6c94c77e99a42d5f")
    }

    @Test func wireMessages() {
        let messages: [WireMessage] = [.ping(1), .items([[1, 2], [3]]), .announce([.zero]), .request([.zero]), .direct([9])]
        #expect(messages.map { Hex.encode($0.canonicalBytes) } == [
            "010000000000000001",
            "03000000020000000201020000000103",
            "04000000010000000000000000000000000000000000000000000000000000000000000000",
            "05000000010000000000000000000000000000000000000000000000000000000000000000",
            "060000000109",
        ])
    }
}
