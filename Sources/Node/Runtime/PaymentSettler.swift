import Crypto
import Foundation
import Ledger
import Payments
import Synchronization

/// Verifies x402 payments against the chain and settles those made to this node's account:
/// a `settlePayment` transaction signed and fee-paid by the node's key, then (in the default
/// mode) a wait for its commit. Used by the facilitator routes and the paid serving path.
final class PaymentSettler: Sendable {
    /// When a settle request is answered.
    enum Mode: String, Sendable {
        /// After the settlement commits; the receipt names the height.
        case commit
        /// After the mempool accepts it (`settlement_pending`): lower latency, but the
        /// settlement can still fail (the payer spends the funds elsewhere first), and the
        /// answer was already given.
        case pending
    }

    let node: ChainNode
    let mode: Mode
    /// The longest wait for a commit in `commit` mode.
    let commitWaitSeconds: Double

    init(node: ChainNode, mode: Mode, commitWaitSeconds: Double) {
        precondition(commitWaitSeconds > 0, "a commit is waited for some time")
        self.node = node
        self.mode = mode
        self.commitWaitSeconds = commitWaitSeconds
    }

    var network: String { X402.network(chainID: node.chainID) }
    /// The account payments to this node go to.
    var payee: Address { node.validatorKey.publicKey }

    /// The `errorReason` of a settlement the chain refused for the provider's side (its fee,
    /// its account nonce), not the payment's: the payment itself may be retried.
    static let rejected = "settlement_rejected"

    static func nowSeconds() -> UInt64 { UInt64(Date().timeIntervalSince1970) }

    /// The six rules against `offers`, the chain's committed state and this node's pending settlements.
    func verify(_ payment: PaymentPayload, offers: [PaymentRequirements], now: UInt64, reservations: PaymentReservations) -> PaymentVerdict {
        PaymentVerifier.verify(payment, offers: offers, now: now, reservations: reservations) { payer, nonce in
            PayerStanding(balance: spendable(payer, now: now), nonceSettled: node.store.value(for: .paymentNonce(payer: payer, nonce: nonce)) != nil)
        }
    }

    /// `verify` with this node's reservations as they stand.
    func verify(_ payment: PaymentPayload, offers: [PaymentRequirements]) -> PaymentVerdict {
        let now = Self.nowSeconds()
        return node.payments.withReservations(now: now) { verify(payment, offers: offers, now: now, reservations: $0) }
    }

    /// Verifies `payment` against `offers` and reserves its amount in one step (rules 1–6);
    /// a valid payment must then be `submit`ted or `release`d.
    func reserve(_ payment: PaymentPayload, offers: [PaymentRequirements]) -> PaymentVerdict {
        let now = Self.nowSeconds()
        return node.payments.reserve(payment, now: now) { verify(payment, offers: offers, now: now, reservations: $0) }
    }

    /// Ends a reservation without settling (the answer was not given, or cost nothing).
    func release(_ payment: PaymentPayload) { node.payments.release(payment.authorization) }

    /// `reserve`, then `submit` for `charged` (default: the authorized amount).
    func settle(_ payment: PaymentPayload, offers: [PaymentRequirements], charged: UInt64? = nil) -> SettlementResponse {
        if let reason = reserve(payment, offers: offers).reason { return .failed(reason.rawValue, network: network, payer: payment.authorization.from) }
        return submit(payment, charged: charged ?? payment.authorization.amount)
    }

    /// Settles a reserved payment for `charged` atomic units (the amount for `exact`; at most
    /// it for `upto`) and the registered `adapter` that served it, if any: a `settlePayment`
    /// transaction signed and fee-paid by this node's key, answered as `mode` says. The
    /// reservation ends with the outcome.
    ///
    /// In `commit` mode a settlement still pending after `commitWaitSeconds` (the chain is
    /// stalled) is answered as in `pending` mode, not as failed: it can still commit —
    /// validators check the window at the time of the block that proposed it, which may be
    /// committed much later — and a payer must not be charged for an answer it was refused.
    /// `awaitingCommit: false` answers as in `pending` mode whatever the mode: for a receipt
    /// no one reads (the client left).
    func submit(_ payment: PaymentPayload, charged: UInt64, adapter: Digest? = nil, awaitingCommit: Bool = true) -> SettlementResponse {
        let a = payment.authorization
        func failed(_ reason: String) -> SettlementResponse { .failed(reason, network: network, payer: a.from) }
        guard a.to == payee.hex, charged <= a.amount, a.scheme == PaymentScheme.upto.rawValue || (charged > 0 && charged == a.amount) else {
            release(payment)
            return failed(a.to == payee.hex ? PaymentInvalidReason.authorizationMismatch.rawValue : PaymentInvalidReason.invalidPaymentRequirements.rawValue)
        }
        let settlement = PaymentSettlement(authorization: a, signature: payment.signature, charged: charged, adapter: adapter)
        let transaction: SignedTransaction
        do {
            transaction = try node.submitOwn(.settlePayment(settlement)) { node.payments.submitted(a, as: $0.hash) }
        } catch {
            release(payment)
            node.log.warning("x402 settlement not submitted", ["payer": a.from.hex, "error": "\(error)"])
            if case let .rejected(.invalidPayment(reason, _)) = error { return failed(reason.rawValue) }
            return failed(Self.rejected)
        }
        var receipt = SettlementResponse.settled(transaction: transaction.hash.hex, network: network, payer: a.from, amount: charged)
        guard mode == .commit, awaitingCommit else {
            receipt.pending = true
            return receipt
        }
        var outcome: ChainNode.TransactionStatus = .unknown
        _ = node.payments.wait(until: Date().addingTimeInterval(commitWaitSeconds)) {
            do { outcome = try node.transactionStatus(transaction.hash) } catch {
                node.log.error("reading a settlement's status failed", ["transaction": transaction.hash.hex, "error": "\(error)"])
                outcome = .unknown
            }
            switch outcome {
            case .committed, .dropped: return true
            case .pending, .unknown: return false
            }
        }
        switch outcome {
        case let .committed(height, _, _):
            receipt.height = height
            return receipt
        case let .dropped(reason):
            if case let .invalidPayment(payment, _) = reason { return failed(payment.rawValue) }
            return failed(Self.rejected)
        case .pending:
            node.log.warning("x402 settlement not committed in time; answered as pending", ["transaction": transaction.hash.hex, "seconds": commitWaitSeconds])
            receipt.pending = true
            return receipt
        case .unknown:
            var lost = failed("settlement_lost")
            lost.transaction = transaction.hash.hex
            return lost
        }
    }

    /// Whether a settlement of `charged` for `adapter` leaves the contributors an escrow on
    /// chain (the adapter is registered with datanets and their share is not zero).
    func leavesEscrow(charged: UInt64, adapter: Digest?) -> Bool {
        guard let adapter, let record: AdapterRecord = node.store.record(.adapter(adapter)) else { return false }
        return node.store.parameters.royalties.split(charged, hasAdapter: true, hasDatanets: !record.datanets.isEmpty).contributors > 0
    }

    /// What `payer` can spend now: its balance less what vesting still locks.
    func spendable(_ payer: Address, now: UInt64) -> UInt64 {
        let balance = node.store.account(payer).balance
        return balance - node.store.lockedPart(of: balance, of: payer, at: now)
    }
}
