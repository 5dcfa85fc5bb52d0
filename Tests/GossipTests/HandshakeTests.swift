import Crypto
import Gossip
import Testing

/// The handshake and frame cipher without sockets: both sides in one process.
@Suite struct HandshakeTests {
    let dialerKey = SigningKey()
    let listenerKey = SigningKey()

    /// Runs both sides; returns their ciphers and the peer ids each learned.
    func complete(dialer: Handshake, listener: Handshake) throws
        -> (dialerCipher: FrameCipher, listenerCipher: FrameCipher, dialerSaw: NodeID, listenerSaw: NodeID) {
        let dialerSide = try dialer.accept(listener.hello)
        let listenerSide = try listener.accept(dialer.hello)
        #expect(dialerSide.transcript == listenerSide.transcript)
        var dialerCipher = dialerSide.cipher
        var listenerCipher = listenerSide.cipher
        let listenerSaw = try listener.verifyPeer(auth: open(seal(dialerSide.auth, &dialerCipher), &listenerCipher), transcript: listenerSide.transcript)
        let dialerSaw = try dialer.verifyPeer(auth: open(seal(listenerSide.auth, &listenerCipher), &dialerCipher), transcript: dialerSide.transcript)
        return (dialerCipher, listenerCipher, dialerSaw, listenerSaw)
    }

    func seal(_ plaintext: [UInt8], _ cipher: inout FrameCipher) -> [UInt8] {
        var frame: [UInt8] = []
        cipher.seal(plaintext, appendingTo: &frame)
        return frame
    }

    func open(_ frame: [UInt8], _ cipher: inout FrameCipher) throws -> [UInt8] {
        try #require(openOptional(frame, &cipher))
    }

    func openOptional(_ frame: [UInt8], _ cipher: inout FrameCipher) -> [UInt8]? {
        let length = FrameCipher.length(frame.prefix(4))
        return frame.withUnsafeBytes { cipher.open(UnsafeRawBufferPointer(rebasing: $0[4...]), length: length) }
    }

    @Test func bothSidesLearnEachOthersIdAndShareAChannel() throws {
        let dialer = Handshake(role: .dialer(expected: listenerKey.publicKey), nodeKey: dialerKey, chainID: "c")
        let listener = Handshake(role: .listener, nodeKey: listenerKey, chainID: "c")
        var result = try complete(dialer: dialer, listener: listener)
        #expect(result.dialerSaw == listenerKey.publicKey && result.listenerSaw == dialerKey.publicKey)
        for message in [[UInt8](), Array("vote".utf8), [UInt8](repeating: 7, count: 70_000)] {
            #expect(try open(seal(message, &result.dialerCipher), &result.listenerCipher) == message)
            #expect(try open(seal(message, &result.listenerCipher), &result.dialerCipher) == message)
        }
    }

    @Test func framesReplayedReorderedOrAlteredFailToOpen() throws {
        let dialer = Handshake(role: .dialer(expected: nil), nodeKey: dialerKey, chainID: "c")
        let listener = Handshake(role: .listener, nodeKey: listenerKey, chainID: "c")
        var result = try complete(dialer: dialer, listener: listener)
        let first = seal(Array("first".utf8), &result.dialerCipher)
        let second = seal(Array("second".utf8), &result.dialerCipher)
        var flipped = first
        flipped[6] ^= 1
        var receiver = result.listenerCipher
        #expect(openOptional(flipped, &receiver) == nil)
        #expect(openOptional(second, &receiver) == nil)  // out of order
        #expect(try open(first, &receiver) == Array("first".utf8))
        #expect(openOptional(first, &receiver) == nil)  // replayed
        #expect(try open(second, &receiver) == Array("second".utf8))
    }

    @Test func anotherChainOrVersionIsRefusedWithItsReason() throws {
        let ours = Handshake(role: .listener, nodeKey: listenerKey, chainID: "localnet")
        let theirs = Handshake(role: .dialer(expected: nil), nodeKey: dialerKey, chainID: "mainnet")
        #expect(throws: HandshakeError.chainID("mainnet", ours: "localnet")) { try ours.accept(theirs.hello) }
        let future = Hello(version: Handshake.protocolVersion + 1, chainID: "localnet", ephemeralKey: theirs.hello.ephemeralKey)
        #expect(throws: HandshakeError.version(Handshake.protocolVersion + 1)) { try ours.accept(future) }
    }

    @Test func theDialerChecksWhoAnswered() throws {
        let impostor = SigningKey()
        let dialer = Handshake(role: .dialer(expected: listenerKey.publicKey), nodeKey: dialerKey, chainID: "c")
        let listener = Handshake(role: .listener, nodeKey: impostor, chainID: "c")
        #expect(throws: HandshakeError.unexpectedPeer(expected: listenerKey.publicKey, got: impostor.publicKey)) {
            try complete(dialer: dialer, listener: listener)
        }
    }

    @Test func aSignatureFromAnotherSessionOrRoleDoesNotVerify() throws {
        let dialer = Handshake(role: .dialer(expected: nil), nodeKey: dialerKey, chainID: "c")
        let listener = Handshake(role: .listener, nodeKey: listenerKey, chainID: "c")
        let listenerSide = try listener.accept(dialer.hello)
        // The listener's own auth reflected back to it as if it were the dialer's.
        let reflected = AuthMessage(nodeKey: dialerKey.publicKey,
                                    signature: try AuthMessage(canonicalBytes: listenerSide.auth).signature)
        #expect(throws: HandshakeError.badSignature) {
            try listener.verifyPeer(auth: reflected.canonicalBytes, transcript: listenerSide.transcript)
        }
        // A valid auth from an earlier session does not open this one.
        let earlier = Handshake(role: .listener, nodeKey: listenerKey, chainID: "c")
        let earlierDialer = try dialer.accept(earlier.hello)
        #expect(throws: HandshakeError.badSignature) {
            try listener.verifyPeer(auth: earlierDialer.auth, transcript: listenerSide.transcript)
        }
    }

    @Test func helloParsingWaitsForBytesAndRefusesStrangers() throws {
        let hello = Handshake(role: .listener, nodeKey: listenerKey, chainID: "localnet").hello
        let bytes = hello.bytes
        for cut in 0..<bytes.count { #expect(try Hello.parse(bytes.prefix(cut)) == nil) }
        let parsed = try #require(try Hello.parse(bytes[...] + [1, 2, 3]))
        #expect(parsed.hello == hello && parsed.consumed == bytes.count)
        #expect(throws: HandshakeError.notTributary) { try Hello.parse(Array("GET / HTTP/1.1\r\n".utf8)[...]) }
        #expect(throws: HandshakeError.notTributary) { try Hello.parse([0x54][...] + [0x00]) }
    }
}
