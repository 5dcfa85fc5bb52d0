/// What a signature is for. Signatures cover `domain tag || chain id || canonical bytes`
/// (tag and chain id length-prefixed), so nothing signed for one purpose or one chain verifies
/// for another.
public struct SigningDomain: Hashable, Sendable {
    public let tag: String

    public init(tag: String) { self.tag = tag }

    public static let transaction = SigningDomain(tag: "tributary/transaction/v1")
    public static let vote = SigningDomain(tag: "tributary/vote/v1")
    public static let proposal = SigningDomain(tag: "tributary/proposal/v1")
    /// A node key proving it holds the session of a peer-to-peer handshake.
    public static let handshake = SigningDomain(tag: "tributary/handshake/v1")
    /// A node key vouching for a gossiped envelope it originated.
    public static let envelope = SigningDomain(tag: "tributary/envelope/v1")

    public static let chainIDMaxBytes = 64

    /// The exact bytes a signature in this domain covers.
    public func message(chainID: String, payload: [UInt8]) -> [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: payload.count + tag.utf8.count + chainID.utf8.count + 8)
        writer.write(string: tag, max: 64)
        writer.write(string: chainID, max: Self.chainIDMaxBytes)
        writer.write(raw: payload)
        return writer.bytes
    }
}

extension SigningKey {
    /// Signs `payload` for `domain` on `chainID`.
    public func sign(_ payload: [UInt8], domain: SigningDomain, chainID: String) -> Signature {
        sign(domain.message(chainID: chainID, payload: payload))
    }
}

extension PublicKey {
    /// Whether `signature` covers `payload` for `domain` on `chainID`.
    public func isValidSignature(_ signature: Signature, for payload: [UInt8], domain: SigningDomain, chainID: String) -> Bool {
        isValidSignature(signature, for: domain.message(chainID: chainID, payload: payload))
    }
}
