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
    /// The only asset: OPEN, the native token.
    public static let asset = "OPEN"

    /// The CAIP-2 style network name of a chain, e.g. `tributary:devnet`.
    public static func network(chainID: String) -> String { "tributary:" + chainID }
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

    /// The exact UTF-8 bytes the Ed25519 signature covers: the domain line, then ten
    /// `name:value` lines, each ending in `\n`, values as the JSON strings carry them.
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

    /// An authorization stops being accepted this long before its `validBefore`.
    public static let expiryMarginSeconds: UInt64 = 5

    /// Rule 3 of verification: `validAfter <= now < validBefore - 5`, and a window of at most
    /// `windowSecondsMax` (the offer's timeout plus 60 for a facilitator; the chain's own
    /// bound at execution).
    public func windowViolation(now: UInt64, windowSecondsMax: UInt64) -> PaymentInvalidReason? {
        if now < validAfter { return .notYetValid }
        guard validBefore >= Self.expiryMarginSeconds, now < validBefore - Self.expiryMarginSeconds else { return .expired }
        guard validBefore - validAfter <= windowSecondsMax else { return .expired }
        return nil
    }

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

/// The two payment schemes of `tributary:*` networks.
public enum PaymentScheme: String, Sendable, CaseIterable {
    /// The client pays exactly the offer's amount.
    case exact
    /// The offer's amount is a cap; the server charges what the answer cost.
    case upto
}

/// A settled (payer, nonce), kept until its authorization's window closes.
public struct PaymentNonceRecord: Hashable, Sendable, CanonicalCodable {
    public var validBefore: UInt64
    public var settledHeight: UInt64

    public init(validBefore: UInt64, settledHeight: UInt64) {
        self.validBefore = validBefore
        self.settledHeight = settledHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(validBefore)
        writer.write(settledHeight)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        validBefore = try reader.readUInt64()
        settledHeight = try reader.readUInt64()
    }
}

/// Why a payment is refused: the x402 `invalidReason` codes (rules 1–6 of verification).
/// Settlement transactions are refused with the codes of rules 2–6.
public enum PaymentInvalidReason: String, Sendable, CaseIterable {
    /// Rule 1: `accepted` is none of the server's current offers.
    case invalidPaymentRequirements = "invalid_payment_requirements"
    /// Rule 2: the authorization's scheme, network, asset, payee, resource or amount differ
    /// from the offer's, or the payer is the payee (on chain: an unknown scheme, another
    /// network or asset, a payee that is not the settling account, a payer that is, or a
    /// charge above the authorized amount).
    case authorizationMismatch = "invalid_tributary_authorization_mismatch"
    /// Rule 3: `now` is within 5 seconds of `validBefore` or past it, or the window is too long.
    case expired = "invalid_tributary_expired"
    /// Rule 3: `now` is before `validAfter`.
    case notYetValid = "invalid_tributary_not_yet_valid"
    /// Rule 4: the signature is not the payer's over the signing bytes.
    case signature = "invalid_tributary_signature"
    /// Rule 5: (payer, nonce) was settled on this chain, or its settlement is pending.
    case nonceUsed = "invalid_tributary_nonce_used"
    /// Rule 6: the payer cannot spend the amount (on top of its pending reservations).
    case insufficientFunds = "insufficient_funds"
}

/// A payee's claim of an x402 payment: the payer's authorization and signature verbatim,
/// what the answer cost and which adapter served it. Executed as a `settlePayment`
/// transaction sent by the payee; the charge is shared out by `RoyaltyRules`.
public struct PaymentSettlement: Hashable, Sendable, CanonicalCodable {
    public var authorization: PaymentAuthorization
    public var signature: Signature
    /// Atomic units charged: the authorized amount (`exact`), at most it (`upto`).
    public var charged: UInt64
    /// The registered adapter that served the answer; nil for the base model.
    public var adapter: Digest?

    /// The longest window the chain accepts (a day), which bounds how long a settled nonce
    /// is kept.
    public static let windowSecondsMax: UInt64 = 86_400
    /// Expired nonces pruned at the start of one block, at most.
    public static let prunedNoncesPerBlockMax = 4_096

    public init(authorization: PaymentAuthorization, signature: Signature, charged: UInt64, adapter: Digest? = nil) {
        self.authorization = authorization
        self.signature = signature
        self.charged = charged
        self.adapter = adapter
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(authorization)
        writer.write(signature)
        writer.write(charged)
        writer.write(adapter != nil)
        if let adapter { writer.write(adapter) }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        authorization = try reader.read()
        signature = try reader.read()
        charged = try reader.readUInt64()
        adapter = try reader.readBool() ? try reader.read() : nil
    }
}
