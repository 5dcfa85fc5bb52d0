import Ledger

/// A `402` answer's `PAYMENT-REQUIRED` object: the resource and the offers for it.
public struct PaymentRequired: Sendable, Equatable {
    public var resource: String
    public var description: String
    public var accepts: [PaymentRequirements]
    /// Why payment is asked for (e.g. the header was missing, or the payment was refused and why).
    public var error: String

    public init(resource: String, description: String, accepts: [PaymentRequirements], error: String) {
        precondition(!accepts.isEmpty, "a 402 answer needs at least one offer")
        self.resource = resource
        self.description = description
        self.accepts = accepts
        self.error = error
    }

    public var json: [String: Any] {
        ["x402Version": X402.version, "error": error,
         "resource": ["url": resource, "description": description, "mimeType": "application/json"],
         "accepts": accepts.map(\.json), "extensions": [String: Any]()]
    }

    /// The `PAYMENT-REQUIRED` header value.
    public var headerValue: String { X402JSON.headerValue(json) }

    /// Reads a `PAYMENT-REQUIRED` object (what `x402 pay` does with a `402`).
    public init(json: [String: Any]) throws(X402Malformed) {
        let object = try X402Object(json, path: "")
        try object.requireVersion()
        let resourceInfo = try object.object("resource")
        resource = try resourceInfo.string("url")
        description = resourceInfo.has("description") ? try resourceInfo.string("description") : ""
        error = object.has("error") ? try object.string("error") : ""
        guard let list = object.fields["accepts"] as? [Any], !list.isEmpty else { throw X402Malformed("accepts must be a non-empty array") }
        var accepts: [PaymentRequirements] = []
        for (index, entry) in list.enumerated() { accepts.append(try PaymentRequirements(X402Object(entry, path: "accepts[\(index)]"))) }
        self.accepts = accepts
    }
}

/// The facilitator's answer to `verify`.
public struct VerifyResponse: Sendable, Equatable {
    public var invalidReason: PaymentInvalidReason?
    public var payer: Address

    public init(_ verdict: PaymentVerdict, payer: Address) {
        self.invalidReason = verdict.reason
        self.payer = payer
    }

    public var isValid: Bool { invalidReason == nil }

    public var json: [String: Any] {
        var json: [String: Any] = ["isValid": isValid, "payer": payer.hex]
        if let invalidReason { json["invalidReason"] = invalidReason.rawValue }
        return json
    }
}

/// The `PAYMENT-RESPONSE` object and the facilitator's answer to `settle`.
public struct SettlementResponse: Sendable, Equatable {
    public var success: Bool
    /// The settlement transaction's hash (lowercase hex), empty when settlement failed.
    public var transaction: String
    public var network: String
    public var payer: Address
    /// Atomic units actually charged (for `upto`, the price of what was served).
    public var amount: UInt64
    /// Why settlement failed: an `invalidReason` code or another stated reason.
    public var errorReason: String?
    /// The height that committed the settlement (answers given after commit).
    public var height: UInt64?
    /// The settlement was accepted into the mempool, not yet committed (the lower-latency
    /// mode; it can still fail).
    public var pending = false

    public static func settled(transaction: String, network: String, payer: Address, amount: UInt64) -> SettlementResponse {
        SettlementResponse(success: true, transaction: transaction, network: network, payer: payer, amount: amount, errorReason: nil)
    }

    public static func failed(_ reason: String, network: String, payer: Address) -> SettlementResponse {
        SettlementResponse(success: false, transaction: "", network: network, payer: payer, amount: 0, errorReason: reason)
    }

    public var json: [String: Any] {
        var json: [String: Any] = ["success": success, "transaction": transaction, "network": network, "payer": payer.hex, "amount": String(amount)]
        if let errorReason { json["errorReason"] = errorReason }
        if let height { json["height"] = height }
        if pending { json["settlement_pending"] = true }
        return json
    }

    /// The `PAYMENT-RESPONSE` header value.
    public var headerValue: String { X402JSON.headerValue(json) }
}

/// `GET /x402/supported`: both schemes on the node's network.
public enum SupportedKinds {
    public static func json(chainID: String) -> [String: Any] {
        ["kinds": PaymentScheme.allCases.map { ["x402Version": X402.version, "scheme": $0.rawValue, "network": X402.network(chainID: chainID)] as [String: Any] },
         "extensions": [Any](), "signers": [String: Any]()]
    }
}

/// The body of `POST /x402/verify` and `POST /x402/settle`:
/// `{"x402Version": 2, "paymentPayload", "paymentRequirements"}`, plus, for settling an
/// `upto` payment, this node's extension `"amount"` (the charge, atomic units).
public struct FacilitatorRequest: Sendable, Equatable {
    public var payment: PaymentPayload
    public var requirements: PaymentRequirements
    public var amount: UInt64?

    public init(payment: PaymentPayload, requirements: PaymentRequirements, amount: UInt64? = nil) {
        self.payment = payment
        self.requirements = requirements
        self.amount = amount
    }

    public var json: [String: Any] {
        var json: [String: Any] = ["x402Version": X402.version, "paymentPayload": payment.json, "paymentRequirements": requirements.json]
        if let amount { json["amount"] = String(amount) }
        return json
    }

    public init(json: [String: Any]) throws(X402Malformed) {
        let object = try X402Object(json, path: "")
        try object.requireVersion()
        payment = try PaymentPayload(json: try object.object("paymentPayload").fields, path: "paymentPayload")
        requirements = try PaymentRequirements(object.object("paymentRequirements"))
        amount = object.has("amount") ? try object.amount("amount") : nil
    }
}
