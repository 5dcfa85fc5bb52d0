import Crypto

/// A gossiped message that is neither a vote, a proposal nor a transaction — peer addresses,
/// attribution proofs, adapter announcements — signed by the key of the node that originated
/// it, over `envelope domain tag || chain id || canonical(kind, payload, origin, sequence)`.
/// Receivers check the signature once, then act on the kinds they know; nobody relays a kind
/// it does not know.
public struct GossipEnvelope: Hashable, Sendable, CanonicalCodable {
    public static let kindMaxBytes = 64
    public static let payloadBytesMax = 1 << 20

    /// What the payload is, e.g. `"peers/v1"`.
    public let kind: String
    public let payload: [UInt8]
    public let origin: NodeID
    /// Increases with each envelope of a kind from one origin, so a newer one can replace an
    /// older one (a counter or the origin's clock in milliseconds).
    public let sequence: UInt64
    public let signature: Signature

    public init(kind: String, payload: [UInt8], origin: NodeID, sequence: UInt64, signature: Signature) {
        self.kind = kind
        self.payload = payload
        self.origin = origin
        self.sequence = sequence
        self.signature = signature
    }

    /// Signs a new envelope with `nodeKey` for `chainID`.
    public init(kind: String, payload: [UInt8], sequence: UInt64, signedBy nodeKey: SigningKey, chainID: String) {
        precondition(kind.utf8.count <= Self.kindMaxBytes && payload.count <= Self.payloadBytesMax, "envelope over its limits")
        let bytes = Self.signedBytes(kind: kind, payload: payload, origin: nodeKey.publicKey, sequence: sequence)
        self.init(kind: kind, payload: payload, origin: nodeKey.publicKey, sequence: sequence,
                  signature: nodeKey.sign(bytes, domain: .envelope, chainID: chainID))
    }

    /// Whether the origin's signature covers this envelope on `chainID`.
    public func isAuthentic(chainID: String) -> Bool {
        origin.isValidSignature(signature, for: Self.signedBytes(kind: kind, payload: payload, origin: origin, sequence: sequence),
                                domain: .envelope, chainID: chainID)
    }

    static func signedBytes(kind: String, payload: [UInt8], origin: NodeID, sequence: UInt64) -> [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: payload.count + 128)
        writer.write(string: kind, max: kindMaxBytes)
        writer.write(bytes: payload, max: payloadBytesMax)
        writer.write(origin)
        writer.write(sequence)
        return writer.bytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(string: kind, max: Self.kindMaxBytes)
        writer.write(bytes: payload, max: Self.payloadBytesMax)
        writer.write(origin)
        writer.write(sequence)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        kind = try reader.readString(max: Self.kindMaxBytes, field: "envelope kind")
        payload = try reader.readBytes(max: Self.payloadBytesMax, field: "envelope payload")
        origin = try reader.read()
        sequence = try reader.readUInt64()
        signature = try reader.read()
    }
}
