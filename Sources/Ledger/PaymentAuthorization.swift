import Crypto

/// An x402 payment authorization on a `tributary:*` network (docs/x402.md): what a payer
/// signs to let one payee charge it once, up to `amount`, inside a time window. Settlement
/// transactions carry it verbatim, so the chain checks the payer's signature itself.
public struct PaymentAuthorization: Hashable, Sendable, CanonicalCodable {
    public var scheme: String
    public var network: String
    /// The payer.
    public var from: Address
    /// The payee's address as the payer wrote it (64 lowercase hex for a valid payment).
    public var to: String
    public var asset: String
    /// Atomic units: the amount (`exact`) or the maximum (`upto`).
    public var amount: UInt64
    /// Unix seconds.
    public var validAfter: UInt64
    public var validBefore: UInt64
    /// 32 random bytes: one settlement per (payer, nonce) on a chain.
    public var nonce: Bytes32
    public var resource: String

    /// The first line of the signing bytes.
    public static let signingDomain = "x402-tributary-v1"
    /// Longest scheme, network, payee or asset text, in bytes.
    public static let fieldBytesMax = 128
    /// Longest resource URL, in bytes.
    public static let resourceBytesMax = 2048

    public init(scheme: String, network: String, from: Address, to: String, asset: String, amount: UInt64,
                validAfter: UInt64, validBefore: UInt64, nonce: Bytes32, resource: String) {
        self.scheme = scheme
        self.network = network
        self.from = from
        self.to = to
        self.asset = asset
        self.amount = amount
        self.validAfter = validAfter
        self.validBefore = validBefore
        self.nonce = nonce
        self.resource = resource
    }

    /// The exact UTF-8 bytes the Ed25519 signature covers: eleven `name:value` lines after
    /// the domain line, each ending in `\n`, values as the JSON strings carry them.
    public var signingBytes: [UInt8] {
        let lines = [
            Self.signingDomain, "scheme:" + scheme, "network:" + network, "from:" + from.hex, "to:" + to, "asset:" + asset,
            "amount:" + String(amount), "validAfter:" + String(validAfter), "validBefore:" + String(validBefore),
            "nonce:" + nonce.hex, "resource:" + resource,
        ]
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// The payer's signature over `signingBytes`.
    public func signed(by key: SigningKey) -> Signature {
        precondition(key.publicKey == from, "signing key is not the payer's")
        return key.sign(signingBytes)
    }

    /// Whether `signature` is the payer's over `signingBytes`.
    public func isSigned(by signature: Signature) -> Bool { from.isValidSignature(signature, for: signingBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(string: scheme, max: Self.fieldBytesMax)
        writer.write(string: network, max: Self.fieldBytesMax)
        writer.write(from)
        writer.write(string: to, max: Self.fieldBytesMax)
        writer.write(string: asset, max: Self.fieldBytesMax)
        writer.write(amount)
        writer.write(validAfter)
        writer.write(validBefore)
        writer.write(nonce)
        writer.write(string: resource, max: Self.resourceBytesMax)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        scheme = try reader.readString(max: Self.fieldBytesMax, field: "payment scheme")
        network = try reader.readString(max: Self.fieldBytesMax, field: "payment network")
        from = try reader.read()
        to = try reader.readString(max: Self.fieldBytesMax, field: "payment payee")
        asset = try reader.readString(max: Self.fieldBytesMax, field: "payment asset")
        amount = try reader.readUInt64()
        validAfter = try reader.readUInt64()
        validBefore = try reader.readUInt64()
        nonce = try reader.readBytes32()
        resource = try reader.readString(max: Self.resourceBytesMax, field: "payment resource")
    }
}
