import Crypto
import Ledger

/// What the chain says of a payer when its payment is checked.
public struct PayerStanding: Sendable, Equatable {
    /// Spendable balance, atomic units.
    public var balance: UInt64
    /// Whether (payer, nonce) was already settled on the chain.
    public var nonceSettled: Bool

    public init(balance: UInt64, nonceSettled: Bool) {
        self.balance = balance
        self.nonceSettled = nonceSettled
    }
}

/// The outcome of verifying a payment.
public enum PaymentVerdict: Sendable, Equatable {
    /// All six rules hold; `offer` is the server's offer the payment matched.
    case valid(offer: PaymentRequirements)
    case invalid(PaymentInvalidReason)

    public var reason: PaymentInvalidReason? {
        if case let .invalid(reason) = self { return reason }
        return nil
    }
}

/// The spec's six verification rules, checked in its order; the first that fails names
/// the reason. Pure: the clock, the chain's view of the payer and the pending reservations
/// are inputs, so the facilitator, settlement and block execution share one definition.
public enum PaymentVerifier {
    /// Checks `payment` against the server's current `offers` at unix time `now`. `standing`
    /// is asked for the payer's chain state only when rules 1–4 hold.
    public static func verify(
        _ payment: PaymentPayload, offers: [PaymentRequirements], now: UInt64,
        reservations: PaymentReservations, standing: (Address, Bytes32) -> PayerStanding
    ) -> PaymentVerdict {
        // Rule 1: the accepted offer is one of the server's.
        guard let offer = offers.first(where: { $0.namesSameOffer(as: payment.accepted) }) else { return .invalid(.invalidPaymentRequirements) }
        // Rule 2: the authorization answers that offer (for `upto` its amount is the cap), and
        // — as validators hold when they execute the settlement — its payer is not the payee.
        let a = payment.authorization
        guard a.scheme == offer.scheme, a.network == offer.network, a.asset == offer.asset, a.to == offer.payTo,
              a.resource == offer.resource, String(a.amount) == offer.amount, a.from.hex != a.to
        else { return .invalid(.authorizationMismatch) }
        // Rule 3: the window.
        let windowMax = UInt64(max(0, offer.maxTimeoutSeconds)) + X402.windowSlackSeconds
        if let reason = a.windowViolation(now: now, windowSecondsMax: windowMax) { return .invalid(reason) }
        // Rule 4: the payer's signature.
        guard a.isSigned(by: payment.signature) else { return .invalid(.signature) }
        // Rule 5: one use per (payer, nonce).
        let chain = standing(a.from, a.nonce)
        guard !chain.nonceSettled, !reservations.isPending(payer: a.from, nonce: a.nonce) else { return .invalid(.nonceUsed) }
        // Rule 6: funds beyond what pending settlements of this payer hold.
        let (needed, overflow) = a.amount.addingReportingOverflow(reservations.reserved(by: a.from))
        guard !overflow, chain.balance >= needed else { return .invalid(.insufficientFunds) }
        return .valid(offer: offer)
    }
}
