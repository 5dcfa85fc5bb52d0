import Crypto

/// Why a transaction cannot be applied. `code` is stable (HTTP API errors use it); the
/// description is for people.
public enum TransactionRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidSignature
    case wrongNonce(expected: UInt64, got: UInt64)
    case feeTooLow(minimum: UInt64, got: UInt64)
    case insufficientFunds(needed: UInt64, balance: UInt64)
    case lockedFunds(needed: UInt64, spendable: UInt64, locked: UInt64)
    case amountOverflow
    case zeroAmount
    case invalidName(String)
    case unknownDatanet(Digest)
    case duplicateContribution(Digest)
    case contributionTooLarge(max: UInt64)
    case adapterAlreadyRegistered(Digest)
    case invalidLineage(String)
    case stakeBelowMinimum(minimum: UInt64, resulting: UInt64)
    case insufficientStake(staked: UInt64, requested: UInt64)
    case tooManyUnbondings(max: Int)
    /// The unstake would leave no validator with power: the set would be empty and the chain halt.
    case lastValidator
    case invalidEvidence(String)
    case staleEvidence(height: UInt64, oldestAccepted: UInt64)
    case duplicateEvidence
    /// An x402 settlement fails a verification rule; the code is the rule's reason.
    case invalidPayment(PaymentInvalidReason, String)
    /// A settlement names an adapter that is not registered.
    case unknownAdapter(Digest)
    /// No escrow waits under this settlement: unknown, released or expired.
    case unknownEscrow(Digest)
    /// The escrow belongs to another provider's settlement.
    case notEscrowProvider(Digest)
    case invalidAttribution(String)

    public var code: String {
        switch self {
        case .invalidSignature: "invalid_signature"
        case .wrongNonce: "wrong_nonce"
        case .feeTooLow: "fee_too_low"
        case .insufficientFunds: "insufficient_funds"
        case .lockedFunds: "locked_funds"
        case .amountOverflow: "amount_overflow"
        case .zeroAmount: "zero_amount"
        case .invalidName: "invalid_name"
        case .unknownDatanet: "unknown_datanet"
        case .duplicateContribution: "duplicate_contribution"
        case .contributionTooLarge: "contribution_too_large"
        case .adapterAlreadyRegistered: "adapter_already_registered"
        case .invalidLineage: "invalid_lineage"
        case .stakeBelowMinimum: "stake_below_minimum"
        case .insufficientStake: "insufficient_stake"
        case .tooManyUnbondings: "too_many_unbondings"
        case .lastValidator: "last_validator"
        case .invalidEvidence: "invalid_evidence"
        case .staleEvidence: "stale_evidence"
        case .duplicateEvidence: "duplicate_evidence"
        case let .invalidPayment(reason, _): reason.rawValue
        case .unknownAdapter: "unknown_adapter"
        case .unknownEscrow: "unknown_escrow"
        case .notEscrowProvider: "not_escrow_provider"
        case .invalidAttribution: "invalid_attribution"
        }
    }

    public var description: String {
        switch self {
        case .invalidSignature: "signature does not verify for the sender on this chain"
        case let .wrongNonce(expected, got): "nonce \(got) but the account's next nonce is \(expected)"
        case let .feeTooLow(minimum, got): "fee \(got) is below the minimum \(minimum) atomic units"
        case let .insufficientFunds(needed, balance): "needs \(needed) atomic units but the balance is \(balance)"
        case let .lockedFunds(needed, spendable, locked):
            "needs \(needed) atomic units but only \(spendable) are spendable; \(locked) are locked by vesting"
        case .amountOverflow: "amounts overflow 64 bits"
        case .zeroAmount: "amount must be greater than zero"
        case let .invalidName(reason): reason
        case let .unknownDatanet(id): "no datanet \(id.hex)"
        case let .duplicateContribution(hash): "content \(hash.hex) was already contributed to this datanet"
        case let .contributionTooLarge(max): "a contribution may be at most \(max) bytes"
        case let .adapterAlreadyRegistered(hash): "adapter \(hash.hex) is already registered"
        case let .invalidLineage(reason): reason
        case let .stakeBelowMinimum(minimum, resulting): "resulting stake \(resulting) is below the minimum \(minimum)"
        case let .insufficientStake(staked, requested): "unstaking \(requested) but only \(staked) is staked"
        case let .tooManyUnbondings(max): "\(max) unstakes are already waiting to unlock"
        case .lastValidator: "the last validator with power cannot unstake all of it: the chain would have no validators"
        case let .invalidEvidence(reason): "evidence is invalid: \(reason)"
        case let .staleEvidence(height, oldest): "evidence from height \(height) is older than the oldest accepted, \(oldest)"
        case .duplicateEvidence: "this validator was already punished for double-signing at this height"
        case let .invalidPayment(_, detail): "payment refused: \(detail)"
        case let .unknownAdapter(id): "no adapter \(id.hex) is registered"
        case let .unknownEscrow(settlement): "no royalty escrow waits for settlement \(settlement.hex): unknown, already released or expired"
        case let .notEscrowProvider(settlement): "settlement \(settlement.hex) was settled by another provider"
        case let .invalidAttribution(reason): "attribution refused: \(reason)"
        }
    }
}
