import Crypto
import Foundation
import Ledger
import Payments

/// A completion request as admission sees it: parsed, priced, not yet scheduled.
struct PricedRequest: Sendable {
    let model: String
    /// The adapter's content hash, or nil for the base model.
    let adapterID: String?
    let maxTokens: Int
    /// Counted only for a policy that `countsPromptTokens`.
    let promptTokens: Int?
    /// The URL offers are made for (`extra.resource`).
    let resource: String
}

/// What admission decides.
enum Admission: Sendable {
    /// Serve without payment.
    case free
    /// Serve, then settle with the paid request.
    case paid(PaidRequest)
    /// Answer this instead (402 with offers, 400 for a malformed payment).
    case refused(HTTPResponse)
}

/// The payment step of the serving path: admission before a request is scheduled, and
/// (through `PaidRequest`) settlement once its generation has finished.
protocol ServingPolicy: Sendable {
    /// Whether `admit` needs the prompt's length: when not, an unpaid request is refused
    /// before its prompt is tokenized.
    var countsPromptTokens: Bool { get }
    func admit(_ request: HTTPRequest, _ priced: PricedRequest) -> Admission
}

/// Admits every request: a node that does not charge for inference.
struct OpenServingPolicy: ServingPolicy {
    var countsPromptTokens: Bool { false }
    func admit(_ request: HTTPRequest, _ priced: PricedRequest) -> Admission { .free }
}

/// Charges for completions by x402: the base model at the node's prices, an adapter at the
/// price registered for it on chain (`register_adapter`'s `price_per_token`), prompt tokens
/// at the node's prompt price either way. A request without `PAYMENT-SIGNATURE` gets 402 with
/// two offers: `exact` for `price × max_tokens + prompt price × prompt tokens`, and `upto`
/// with that cap and `extra.pricePerToken`, charged for the tokens actually generated.
struct PricedServingPolicy: ServingPolicy {
    let settler: PaymentSettler
    /// Atomic units per generated token of the base model (and of unregistered adapters).
    let pricePerToken: UInt64
    /// Atomic units per prompt token.
    let pricePerPromptToken: UInt64
    /// Offers' `maxTimeoutSeconds`.
    static let offerTimeoutSeconds = 60

    var countsPromptTokens: Bool { pricePerPromptToken > 0 }

    /// The prompt tokens a charge counts: none when the prompt is free.
    static func promptTokens(_ priced: PricedRequest, price: UInt64) -> Int {
        guard price > 0 else { return 0 }
        guard let count = priced.promptTokens else { preconditionFailure("a priced prompt was not counted") }
        return count
    }

    /// `priced`'s adapter as registered on chain (its hash and record), or nil for the base
    /// model or an unregistered adapter.
    func registered(_ priced: PricedRequest) -> (id: Digest, record: AdapterRecord)? {
        guard let id = priced.adapterID.flatMap(Digest.init(hex:)), let record: AdapterRecord = settler.node.store.record(.adapter(id)) else { return nil }
        return (id, record)
    }

    /// The per-token prices of a model: a registered adapter's, else the node's.
    func prices(_ adapter: AdapterRecord?) -> (perToken: UInt64, perPromptToken: UInt64) {
        (adapter?.pricePerToken ?? pricePerToken, pricePerPromptToken)
    }

    /// The offers for `priced` (served by the registered `adapter`, if any), or nil when the
    /// price overflows 64 bits.
    func offers(_ priced: PricedRequest, adapter: AdapterRecord?) -> [PaymentRequirements]? {
        let price = prices(adapter)
        guard let cap = Self.charge(price, generated: priced.maxTokens, prompt: Self.promptTokens(priced, price: price.perPromptToken)), cap > 0 else { return [] }
        return [
            PaymentRequirements(scheme: .exact, chainID: settler.node.chainID, amount: cap, payTo: settler.payee,
                                maxTimeoutSeconds: Self.offerTimeoutSeconds, resource: priced.resource),
            PaymentRequirements(scheme: .upto, chainID: settler.node.chainID, amount: cap, payTo: settler.payee,
                                maxTimeoutSeconds: Self.offerTimeoutSeconds, resource: priced.resource, pricePerToken: price.perToken,
                                pricePerPromptToken: price.perPromptToken > 0 ? price.perPromptToken : nil),
        ]
    }

    /// `perToken × generated + perPromptToken × prompt`, nil on overflow.
    static func charge(_ price: (perToken: UInt64, perPromptToken: UInt64), generated: Int, prompt: Int) -> UInt64? {
        let (output, o1) = price.perToken.multipliedReportingOverflow(by: UInt64(generated))
        let (input, o2) = price.perPromptToken.multipliedReportingOverflow(by: UInt64(prompt))
        let (total, o3) = output.addingReportingOverflow(input)
        return o1 || o2 || o3 ? nil : total
    }

    func admit(_ request: HTTPRequest, _ priced: PricedRequest) -> Admission {
        let adapter = registered(priced)
        guard let offers = self.offers(priced, adapter: adapter?.record) else {
            return .refused(CompletionsAPI.error(400, "invalid_request", "the price of max_tokens \(priced.maxTokens) exceeds 64 bits of atomic units"))
        }
        guard !offers.isEmpty else { return .free }
        let required = { (error: String) in PaymentRequired(resource: priced.resource, description: "completion by \(priced.model)", accepts: offers, error: error) }
        guard let header = request.headers[X402.paymentSignatureHeader.lowercased()] else {
            return .refused(Self.paymentRequired(required("\(X402.paymentSignatureHeader) header is required")))
        }
        let payment: PaymentPayload
        do { payment = try PaymentPayload(headerValue: header) } catch {
            return .refused(Self.exposing(CompletionsAPI.error(400, "malformed_payment", "\(X402.paymentSignatureHeader): \(error)")))
        }
        switch settler.reserve(payment, offers: offers) {
        case let .invalid(reason): return .refused(Self.paymentRequired(required(reason.rawValue)))
        case let .valid(offer):
            return .paid(PaidRequest(settler: settler, payment: payment, offer: offer, price: prices(adapter?.record), required: required(""),
                                     promptTokens: Self.promptTokens(priced, price: pricePerPromptToken), adapter: adapter?.id))
        }
    }

    /// 402 with the offers in `PAYMENT-REQUIRED` and as the body.
    static func paymentRequired(_ required: PaymentRequired, receipt: SettlementResponse? = nil) -> HTTPResponse {
        var response = HTTPResponse.json(required.json, status: 402)
        response.headers.append((X402.paymentRequiredHeader, required.headerValue))
        if let receipt { response.headers.append((X402.paymentResponseHeader, receipt.headerValue)) }
        return exposing(response)
    }

    /// Lets browser clients read the x402 headers (CORS).
    static func exposing(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        response.headers.append(("Access-Control-Expose-Headers", "\(X402.paymentRequiredHeader), \(X402.paymentResponseHeader)"))
        return response
    }
}

/// An admitted, paid request: its payment is verified and its amount reserved; once the
/// generation has finished it is settled (or released when nothing is served).
struct PaidRequest: Sendable {
    let settler: PaymentSettler
    let payment: PaymentPayload
    let offer: PaymentRequirements
    let price: (perToken: UInt64, perPromptToken: UInt64)
    /// The offers again, for a 402 when settlement fails.
    let required: PaymentRequired
    let promptTokens: Int
    /// The registered adapter serving the request, named in the settlement for its royalties.
    let adapter: Digest?

    /// Settles for a generation of `generatedTokens`: the whole amount for `exact`, the
    /// tokens' price for `upto` — settled on chain even when it is zero, so the receipt names
    /// a transaction and the authorization is spent.
    func settle(generatedTokens: Int) -> SettlementResponse {
        let a = payment.authorization
        guard a.scheme == PaymentScheme.upto.rawValue else { return settler.submit(payment, charged: a.amount, adapter: adapter) }
        return settler.submit(payment, charged: uptoCharge(generatedTokens: generatedTokens), adapter: adapter)
    }

    /// Ends the reservation: the request was not served.
    func release() { settler.release(payment) }

    /// What an `upto` payment is charged for `generatedTokens` and the prompt, at most its cap.
    private func uptoCharge(generatedTokens: Int) -> UInt64 {
        let cap = payment.authorization.amount
        return min(cap, PricedServingPolicy.charge(price, generated: generatedTokens, prompt: promptTokens) ?? cap)
    }

    /// The client went away after `generatedTokens`: an `upto` payment is charged for them
    /// (and the prompt), an `exact` one is not settled, and neither is a request that never
    /// ran (no token: its prompt was not computed either) or a zero charge. The settlement is
    /// not waited for: no one reads its receipt, and the caller's thread is a connection's.
    func abandon(generatedTokens: Int) {
        let charge = uptoCharge(generatedTokens: generatedTokens)
        guard payment.authorization.scheme == PaymentScheme.upto.rawValue, generatedTokens > 0, charge > 0 else { return release() }
        let receipt = settler.submit(payment, charged: charge, adapter: adapter, awaitingCommit: false)
        if !receipt.success { settler.node.log.warning("settling an abandoned upto payment failed", ["payer": payment.authorization.from.hex, "reason": receipt.errorReason ?? ""]) }
    }

    /// The paid answer: `response` with `PAYMENT-RESPONSE`, or 402 when settlement failed.
    func answer(_ response: HTTPResponse, receipt: SettlementResponse) -> HTTPResponse {
        guard receipt.success else {
            var again = required
            again.error = receipt.errorReason ?? "settlement failed"
            return PricedServingPolicy.paymentRequired(again, receipt: receipt)
        }
        var response = response
        response.headers.append((X402.paymentResponseHeader, receipt.headerValue))
        return PricedServingPolicy.exposing(response)
    }
}
