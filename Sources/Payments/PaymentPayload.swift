import Crypto
import Foundation
import Ledger

/// A client's payment, the JSON a `PAYMENT-SIGNATURE` header carries:
///
///     {"x402Version": 2, "resource"?: {...}, "accepted": <PaymentRequirements>,
///      "payload": {"authorization": <PaymentAuthorization>, "signature": <base64>},
///      "extensions"?: {...}}
public struct PaymentPayload: Hashable, Sendable {
    /// The offer the client chose.
    public var accepted: PaymentRequirements
    public var authorization: PaymentAuthorization
    /// Ed25519 over `authorization.signingBytes`, sent as standard padded base64.
    public var signature: Signature

    public init(accepted: PaymentRequirements, authorization: PaymentAuthorization, signature: Signature) {
        self.accepted = accepted
        self.authorization = authorization
        self.signature = signature
    }

    /// A payment of `offer` by `key`, valid from `now` for the offer's timeout.
    public init?(paying offer: PaymentRequirements, with key: SigningKey, now: UInt64) {
        guard let authorization = PaymentAuthorization(answering: offer, from: key.publicKey, now: now) else { return nil }
        self.init(accepted: offer, authorization: authorization, signature: authorization.signed(by: key))
    }

    /// The JSON object.
    public var json: [String: Any] {
        var json: [String: Any] = [
            "x402Version": X402.version, "accepted": accepted.json,
            "payload": ["authorization": authorization.json, "signature": Data(signature.bytes).base64EncodedString()],
        ]
        if let resource = accepted.resource { json["resource"] = ["url": resource] }
        return json
    }

    /// The `PAYMENT-SIGNATURE` header value.
    public var headerValue: String { X402JSON.headerValue(json) }

    /// Reads a payment from its JSON object (`paymentPayload` of a facilitator body, or a
    /// decoded header): `x402Version` must be 2, every field present and well-formed.
    public init(json: [String: Any], path: String = "") throws(X402Malformed) {
        let object = try X402Object(json, path: path)
        try object.requireVersion()
        accepted = try PaymentRequirements(object.object("accepted"))
        let payload = try object.object("payload")
        authorization = try PaymentAuthorization(payload.object("authorization"))
        let text = try payload.string("signature")
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text, let signature = Signature(data) else {
            throw X402Malformed("\(payload.name("signature")) must be a 64-byte signature in standard padded base64")
        }
        self.signature = signature
    }

    /// Reads a `PAYMENT-SIGNATURE` header value.
    public init(headerValue: String) throws(X402Malformed) {
        try self.init(json: X402JSON.object(headerValue: headerValue))
    }
}
