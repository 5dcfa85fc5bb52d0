import Crypto

/// One side of the peer-to-peer handshake, as a value: no sockets, so the transport, tests and
/// test clients drive the same code.
///
/// 1. Each side sends its `Hello` in the clear: magic, protocol version, chain id and a fresh
///    X25519 key. A peer of another chain or version is refused here, with a clear reason.
/// 2. Both derive per-direction session keys from the two ephemeral keys (libsodium
///    `crypto_kx`; the dialer is the client) and switch to encrypted frames (`FrameCipher`).
/// 3. In the first encrypted frame each side sends an `AuthMessage`: its node key and an
///    Ed25519 signature (handshake domain, chain id) over the transcript hash — version, chain
///    id, both ephemeral keys — and its role. The dialer also checks the node id it dialed.
///
/// Signing the transcript binds the long-term node identity to this session's keys: a relay
/// in the middle cannot read the frames, and a signature from one session opens no other.
public struct Handshake: Sendable {
    public static let protocolVersion: UInt16 = 1

    public enum Role: Sendable, Equatable {
        /// This side connected; `expected` is the node id it meant to reach, if known.
        case dialer(expected: NodeID?)
        case listener

        var signatureByte: UInt8 {
            if case .dialer = self { return 1 }
            return 2
        }

        var peerSignatureByte: UInt8 { signatureByte == 1 ? 2 : 1 }
    }

    public let role: Role
    public let chainID: String
    private let nodeKey: SigningKey
    private let ephemeral: EphemeralKeyPair

    public init(role: Role, nodeKey: SigningKey, chainID: String, ephemeral: EphemeralKeyPair = EphemeralKeyPair()) {
        precondition(chainID.utf8.count <= SigningDomain.chainIDMaxBytes, "chain id over its maximum length")
        self.role = role
        self.chainID = chainID
        self.nodeKey = nodeKey
        self.ephemeral = ephemeral
    }

    /// What this side sends first.
    public var hello: Hello { Hello(version: Self.protocolVersion, chainID: chainID, ephemeralKey: ephemeral.publicKey) }

    /// Checks the peer's hello and derives the session: the frame cipher, and the plaintext of
    /// this side's `AuthMessage`, to be sent as the first encrypted frame.
    public func accept(_ peer: Hello) throws(HandshakeError) -> (cipher: FrameCipher, auth: [UInt8], transcript: Digest) {
        guard peer.version == Self.protocolVersion else { throw .version(peer.version) }
        guard peer.chainID == chainID else { throw .chainID(peer.chainID, ours: chainID) }
        let isDialer = role != .listener
        guard let keys = ephemeral.sessionKeys(peerKey: peer.ephemeralKey, isDialer: isDialer) else { throw .weakKey }
        let transcript = Self.transcript(
            version: Self.protocolVersion, chainID: chainID,
            dialerKey: isDialer ? ephemeral.publicKey : peer.ephemeralKey,
            listenerKey: isDialer ? peer.ephemeralKey : ephemeral.publicKey)
        let signature = nodeKey.sign(Self.signedPayload(transcript, roleByte: role.signatureByte), domain: .handshake, chainID: chainID)
        let auth = AuthMessage(nodeKey: nodeKey.publicKey, signature: signature)
        return (FrameCipher(keys: keys), auth.canonicalBytes, transcript)
    }

    /// Checks the peer's `AuthMessage` (the plaintext of its first encrypted frame) and returns
    /// its node id.
    public func verifyPeer(auth plaintext: [UInt8], transcript: Digest) throws(HandshakeError) -> NodeID {
        let auth: AuthMessage
        do { auth = try AuthMessage(canonicalBytes: plaintext, maxBytes: 256) } catch { throw .malformed("auth message: \(error)") }
        guard auth.nodeKey.isValidSignature(
            auth.signature, for: Self.signedPayload(transcript, roleByte: role.peerSignatureByte), domain: .handshake, chainID: chainID)
        else { throw .badSignature }
        guard auth.nodeKey != nodeKey.publicKey else { throw .selfConnection }
        if case let .dialer(expected?) = role, expected != auth.nodeKey { throw .unexpectedPeer(expected: expected, got: auth.nodeKey) }
        return auth.nodeKey
    }

    /// The BLAKE2b-256 of the canonical encoding of the handshake domain tag, the version, the
    /// chain id and the two ephemeral keys (dialer's first).
    public static func transcript(version: UInt16, chainID: String, dialerKey: Bytes32, listenerKey: Bytes32) -> Digest {
        var writer = CanonicalWriter()
        writer.write(string: SigningDomain.handshake.tag, max: 64)
        writer.write(version)
        writer.write(string: chainID, max: SigningDomain.chainIDMaxBytes)
        writer.write(dialerKey)
        writer.write(listenerKey)
        return Digest.blake2b(writer.bytes)
    }

    /// What each side signs: the transcript hash and its role (1 dialer, 2 listener), so one
    /// side's signature cannot be reflected back as the other's.
    static func signedPayload(_ transcript: Digest, roleByte: UInt8) -> [UInt8] { transcript.bytes + [roleByte] }
}

/// The clear-text opening of a connection: `"TRBY"`, `u16` protocol version, `u8` chain id
/// length, the chain id, and a 32-byte ephemeral X25519 key.
public struct Hello: Hashable, Sendable {
    public static let magic: [UInt8] = Array("TRBY".utf8)
    public static let bytesMax = 4 + 2 + 1 + SigningDomain.chainIDMaxBytes + 32

    public let version: UInt16
    public let chainID: String
    public let ephemeralKey: Bytes32

    public init(version: UInt16, chainID: String, ephemeralKey: Bytes32) {
        self.version = version
        self.chainID = chainID
        self.ephemeralKey = ephemeralKey
    }

    public var bytes: [UInt8] {
        var writer = CanonicalWriter()
        writer.write(raw: Self.magic)
        writer.write(version)
        writer.write(UInt8(chainID.utf8.count))
        writer.write(raw: Array(chainID.utf8))
        writer.write(ephemeralKey)
        return writer.bytes
    }

    /// Parses a hello from the start of `buffer`: nil while more bytes are needed, else the
    /// hello and how many bytes it took. Throws as soon as the bytes cannot be a hello.
    public static func parse(_ buffer: ArraySlice<UInt8>) throws(HandshakeError) -> (hello: Hello, consumed: Int)? {
        let start = buffer.startIndex
        let magicSeen = min(buffer.count, magic.count)
        guard buffer[start..<start + magicSeen].elementsEqual(magic.prefix(magicSeen)) else { throw .notTributary }
        guard buffer.count >= 7 else { return nil }
        let version = UInt16(buffer[start + 4]) << 8 | UInt16(buffer[start + 5])
        let chainIDLength = Int(buffer[start + 6])
        guard chainIDLength <= SigningDomain.chainIDMaxBytes else { throw .malformed("chain id of \(chainIDLength) bytes") }
        let total = 7 + chainIDLength + 32
        guard buffer.count >= total else { return nil }
        guard let chainID = String(validating: buffer[start + 7..<start + 7 + chainIDLength], as: UTF8.self) else {
            throw .malformed("chain id is not UTF-8")
        }
        let key = Bytes32(buffer[start + 7 + chainIDLength..<start + total])!
        return (Hello(version: version, chainID: chainID, ephemeralKey: key), total)
    }
}

/// A node's proof of identity inside the encrypted channel: its node key and its signature over
/// the handshake transcript.
public struct AuthMessage: Hashable, Sendable, CanonicalCodable {
    public let nodeKey: NodeID
    public let signature: Signature

    public init(nodeKey: NodeID, signature: Signature) {
        self.nodeKey = nodeKey
        self.signature = signature
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(nodeKey)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        nodeKey = try reader.read()
        signature = try reader.read()
    }
}

/// Why a handshake failed. `reason` is the label counted in metrics.
public enum HandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    case notTributary
    case version(UInt16)
    case chainID(String, ours: String)
    case weakKey
    case malformed(String)
    case badSignature
    case selfConnection
    case unexpectedPeer(expected: NodeID, got: NodeID)
    case timeout

    public var reason: String {
        switch self {
        case .notTributary: "not_tributary"
        case .version: "version"
        case .chainID: "chain_id"
        case .weakKey: "weak_key"
        case .malformed: "malformed"
        case .badSignature: "bad_signature"
        case .selfConnection: "self"
        case .unexpectedPeer: "unexpected_peer"
        case .timeout: "timeout"
        }
    }

    public var description: String {
        switch self {
        case .notTributary: "the peer did not open with a Tributary hello (wrong magic bytes)"
        case let .version(version): "the peer speaks protocol version \(version), this node \(Handshake.protocolVersion)"
        case let .chainID(theirs, ours): "the peer is on chain '\(theirs)', this node on '\(ours)'"
        case .weakKey: "the peer's ephemeral key is not acceptable"
        case let .malformed(what): "malformed handshake: \(what)"
        case .badSignature: "the peer's handshake signature does not verify"
        case .selfConnection: "connected to itself"
        case let .unexpectedPeer(expected, got): "expected node \(expected.hex.prefix(16))…, the peer is \(got.hex.prefix(16))…"
        case .timeout: "the handshake did not finish in time"
        }
    }
}
