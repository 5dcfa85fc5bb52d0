import Foundation
import Ledger
import Payments

/// The x402 facilitator routes every node serves (docs/x402.md):
///
/// | route | answer |
/// | --- | --- |
/// | `GET /x402/supported` | `{"kinds": [{"x402Version": 2, "scheme": "exact" | "upto", "network": "tributary:<chain-id>"}], "extensions": [], "signers": {}}` |
/// | `POST /x402/verify` | body `{"x402Version": 2, "paymentPayload", "paymentRequirements"}` → `{"isValid", "invalidReason"?, "payer"}` |
/// | `POST /x402/settle` | the same body → `{"success", "transaction", "network", "payer", "amount", "errorReason"?, "height"?, "settlement_pending"?}` |
///
/// `verify` checks the six rules with `paymentRequirements` as the server's only offer,
/// against the committed chain and this node's pending settlements. `settle` does the same,
/// then settles to this node's account (a payment to another payee fails with
/// `invalid_payment_requirements`: only the payee can settle); for `upto` the body may name
/// the charge in `"amount"` (default: the cap). Malformed bodies answer 400
/// `{"error": "malformed_payment", "message"}`.
struct X402API: Sendable {
    let settler: PaymentSettler

    func register(in router: inout HTTPRouter) {
        router.add("GET", "/x402/supported") { _, _ in .json(SupportedKinds.json(chainID: settler.node.chainID)) }
        router.add("POST", "/x402/verify") { request, _ in answer(request, settle: false) }
        router.add("POST", "/x402/settle") { request, _ in answer(request, settle: true) }
    }

    private func answer(_ request: HTTPRequest, settle: Bool) -> HTTPResponse {
        let body: FacilitatorRequest
        do {
            body = try FacilitatorRequest(json: X402JSON.object(json: Data(request.body)))
            if body.amount != nil, !settle { throw X402Malformed("amount is the charge of a settlement; verify takes none") }
        } catch {
            return .error(400, "malformed_payment", "\(error)")
        }
        let (payment, requirements) = (body.payment, body.requirements)
        guard settle else {
            return .json(VerifyResponse(settler.verify(payment, offers: [requirements]), payer: payment.authorization.from).json)
        }
        guard requirements.payTo == settler.payee.hex else {
            return .json(SettlementResponse.failed(PaymentInvalidReason.invalidPaymentRequirements.rawValue, network: settler.network, payer: payment.authorization.from).json)
        }
        return .json(settler.settle(payment, offers: [requirements], charged: body.amount).json)
    }
}
