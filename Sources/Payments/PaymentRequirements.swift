import Crypto
import Ledger

/// One entry of a `402` answer's `accepts`: what the server takes for one resource, and what
/// a client names as `accepted` when it pays.
///
///     {"scheme", "network", "asset", "amount", "payTo", "maxTimeoutSeconds",
///      "extra": {"decimals", "resource", "pricePerToken"?, "pricePerPromptToken"?}}
///
/// Fields are kept as the JSON gave them, so a client's copy is compared with the server's
/// offers exactly (rule 1) without refusing values the server would never offer.
public struct PaymentRequirements: Hashable, Sendable {
    public var scheme: String
    public var network: String
    public var asset: String
    /// Atomic units: the price (`exact`) or the cap (`upto`).
    public var amount: String
    public var payTo: String
    public var maxTimeoutSeconds: Int
    /// `extra.resource`: the resource URL the offer is for.
    public var resource: String?
    /// `extra.pricePerToken`: atomic units per generated token, on `upto` offers for inference.
    public var pricePerToken: String?
    /// `extra.pricePerPromptToken`: atomic units per prompt token, on `upto` offers of a server
    /// that prices prompts too (the charge is then `pricePerToken × generated +
    /// pricePerPromptToken × prompt`).
    public var pricePerPromptToken: String?

    /// A server's offer on `chainID`'s network for `resource`.
    public init(scheme: PaymentScheme, chainID: String, amount: UInt64, payTo: Address, maxTimeoutSeconds: Int, resource: String,
                pricePerToken: UInt64? = nil, pricePerPromptToken: UInt64? = nil) {
        precondition(maxTimeoutSeconds > 0, "an offer needs a positive timeout")
        self.scheme = scheme.rawValue
        self.network = X402.network(chainID: chainID)
        self.asset = X402.asset
        self.amount = String(amount)
        self.payTo = payTo.hex
        self.maxTimeoutSeconds = maxTimeoutSeconds
        self.resource = resource
        self.pricePerToken = pricePerToken.map { String($0) }
        self.pricePerPromptToken = pricePerPromptToken.map { String($0) }
    }

    /// Whether the fields rule 1 compares (scheme, network, asset, amount, payTo,
    /// maxTimeoutSeconds) are equal.
    public func namesSameOffer(as other: PaymentRequirements) -> Bool {
        scheme == other.scheme && network == other.network && asset == other.asset && amount == other.amount
            && payTo == other.payTo && maxTimeoutSeconds == other.maxTimeoutSeconds
    }

    /// The JSON object.
    public var json: [String: Any] {
        var extra: [String: Any] = ["decimals": X402.decimals]
        if let resource { extra["resource"] = resource }
        if let pricePerToken { extra["pricePerToken"] = pricePerToken }
        if let pricePerPromptToken { extra["pricePerPromptToken"] = pricePerPromptToken }
        return ["scheme": scheme, "network": network, "asset": asset, "amount": amount, "payTo": payTo,
                "maxTimeoutSeconds": maxTimeoutSeconds, "extra": extra]
    }

    /// Reads a requirements object (`accepted`, or `paymentRequirements` of a facilitator body).
    init(_ object: X402Object) throws(X402Malformed) {
        scheme = try object.string("scheme")
        network = try object.string("network")
        asset = try object.string("asset")
        amount = try object.string("amount")
        payTo = try object.string("payTo")
        maxTimeoutSeconds = try object.integer("maxTimeoutSeconds", in: 0...Int(Int32.max))
        if object.has("extra") {
            let extra = try object.object("extra")
            resource = extra.has("resource") ? try extra.string("resource") : nil
            pricePerToken = extra.has("pricePerToken") ? try extra.string("pricePerToken") : nil
            pricePerPromptToken = extra.has("pricePerPromptToken") ? try extra.string("pricePerPromptToken") : nil
        }
    }

    /// Reads a requirements object from its JSON.
    public init(json: [String: Any], path: String = "paymentRequirements") throws(X402Malformed) {
        try self.init(X402Object(json, path: path))
    }
}
