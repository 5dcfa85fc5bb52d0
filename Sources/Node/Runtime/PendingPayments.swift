import Crypto
import Foundation
import Ledger
import Payments
import Synchronization

/// The x402 settlements this node submitted that have not yet committed or dropped, and the
/// payer funds they hold (verification rule 6). The chain node reports commits and drops;
/// settle requests verify and reserve in one step and wait here for their outcome.
final class PendingPayments: Sendable {
    private struct Held: Sendable {
        let payer: Address
        let nonce: Bytes32
        let validBefore: UInt64
    }

    private struct State: Sendable {
        var reservations = PaymentReservations()
        /// What each submitted settlement holds.
        var byTransaction: [Digest: Held] = [:]
        /// Reservations not yet tied to a transaction, by (payer, nonce), with their window's end.
        var unsubmitted: [Held] = []

        /// Lets go of reservations whose window has closed: they can no longer settle.
        mutating func expire(now: UInt64) {
            for (hash, held) in byTransaction where held.validBefore <= now {
                reservations.release(payer: held.payer, nonce: held.nonce)
                byTransaction[hash] = nil
            }
        }
    }

    private let state = Mutex(State())
    private let changed = NSCondition()

    /// Runs `verify` on the current reservations and, when it answers valid, reserves the
    /// payment's amount in the same critical section (so two payments of one payer cannot
    /// both spend the same funds).
    func reserve(_ payment: PaymentPayload, now: UInt64, verify: (PaymentReservations) -> PaymentVerdict) -> PaymentVerdict {
        state.withLock { state in
            state.expire(now: now)
            let verdict = verify(state.reservations)
            guard case .valid = verdict else { return verdict }
            let a = payment.authorization
            guard state.reservations.reserve(payer: a.from, nonce: a.nonce, amount: a.amount) else { return .invalid(.nonceUsed) }
            state.unsubmitted.append(Held(payer: a.from, nonce: a.nonce, validBefore: a.validBefore))
            return verdict
        }
    }

    /// The reservation of `authorization` now travels with transaction `hash`.
    func submitted(_ authorization: PaymentAuthorization, as hash: Digest) {
        state.withLock { state in
            guard let index = state.unsubmitted.firstIndex(where: { $0.payer == authorization.from && $0.nonce == authorization.nonce }) else { return }
            state.byTransaction[hash] = state.unsubmitted.remove(at: index)
        }
    }

    /// Ends the reservation of an authorization whose settlement did not reach the mempool.
    func release(_ authorization: PaymentAuthorization) {
        state.withLock { state in
            func isIt(_ held: Held) -> Bool { held.payer == authorization.from && held.nonce == authorization.nonce }
            state.unsubmitted.removeAll(where: isIt)
            for (hash, held) in state.byTransaction where isIt(held) { state.byTransaction[hash] = nil }
            state.reservations.release(payer: authorization.from, nonce: authorization.nonce)
        }
    }

    /// `body`'s answer from the reservations as they stand at `now`.
    func withReservations<Answer>(now: UInt64, _ body: (PaymentReservations) -> Answer) -> Answer {
        state.withLock { state in
            state.expire(now: now)
            return body(state.reservations)
        }
    }

    /// Transactions committed in a block: their reservations end (the balance now shows them).
    func committed(_ transactions: [SignedTransaction]) { finished(transactions.map(\.hash)) }

    /// Transactions dropped from the mempool: their reservations end.
    func dropped(_ hashes: [Digest]) { finished(hashes) }

    /// Pending settlements (reserved, submitted or not).
    var count: Int { state.withLock { $0.reservations.count } }

    private func finished(_ hashes: [Digest]) {
        let released = state.withLock { state in
            hashes.reduce(0) { count, hash in
                guard let held = state.byTransaction.removeValue(forKey: hash) else { return count }
                state.reservations.release(payer: held.payer, nonce: held.nonce)
                return count + 1
            }
        }
        guard released > 0 else { return }
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    /// Waits until `done()` holds, checking again whenever a settlement commits or drops;
    /// false if `deadline` passes first.
    func wait(until deadline: Date, _ done: () -> Bool) -> Bool {
        changed.lock()
        defer { changed.unlock() }
        while !done() {
            if !changed.wait(until: deadline) { return done() }
        }
        return true
    }
}
