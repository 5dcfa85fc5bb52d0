import Crypto
import Ledger

/// Funds held for settlements in flight (rule 6): while a payer's authorization is being
/// settled, its amount is reserved, so a second payment by the same payer must be covered
/// by the balance on top of it, and the same (payer, nonce) cannot be presented again.
/// A value: its owner serialises access and releases each reservation when its
/// settlement commits or fails.
public struct PaymentReservations: Sendable, Equatable {
    private struct Key: Hashable, Sendable {
        let payer: Address
        let nonce: Bytes32
    }

    private var amounts: [Key: UInt64] = [:]
    private var totals: [Address: UInt64] = [:]

    public init() {}

    /// Atomic units reserved by `payer`'s pending settlements.
    public func reserved(by payer: Address) -> UInt64 { totals[payer] ?? 0 }

    /// Whether a settlement of (`payer`, `nonce`) is pending.
    public func isPending(payer: Address, nonce: Bytes32) -> Bool { amounts[Key(payer: payer, nonce: nonce)] != nil }

    /// Pending settlements.
    public var count: Int { amounts.count }

    /// Reserves `amount` for (`payer`, `nonce`); false (and nothing changes) when that pair is
    /// already pending or the payer's total would overflow.
    public mutating func reserve(payer: Address, nonce: Bytes32, amount: UInt64) -> Bool {
        let key = Key(payer: payer, nonce: nonce)
        let (total, overflow) = reserved(by: payer).addingReportingOverflow(amount)
        guard amounts[key] == nil, !overflow else { return false }
        amounts[key] = amount
        totals[payer] = total
        return true
    }

    /// Ends the reservation of (`payer`, `nonce`), if any.
    public mutating func release(payer: Address, nonce: Bytes32) {
        guard let amount = amounts.removeValue(forKey: Key(payer: payer, nonce: nonce)) else { return }
        let left = reserved(by: payer) - amount
        totals[payer] = left == 0 ? nil : left
        assert(amounts.keys.filter { $0.payer == payer }.reduce(0) { $0 + amounts[$1]! } == left, "reservation totals drifted")
    }
}
