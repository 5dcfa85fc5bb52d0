import Crypto
import Ledger

/// The votes of one height, counted by power: per round and kind, one vote per validator.
///
/// A second, different vote from a validator for the same round and kind is not counted; it
/// is returned as evidence of double-signing.
struct VoteBook {
    struct Key: Hashable {
        let round: UInt32
        let kind: Vote.Kind
    }

    /// Votes of one round and kind.
    struct Tally {
        var votes: [Address: SignedVote] = [:]
        var powerByValue: [Digest?: UInt64] = [:]
        var totalPower: UInt64 = 0
    }

    enum Outcome {
        case added
        case duplicate
        case conflict(DuplicateVoteEvidence)
    }

    let validators: ValidatorSet
    private(set) var tallies: [Key: Tally] = [:]
    /// Power of the validators heard from (any message) per round, for round skipping.
    private var heard: [UInt32: Set<Address>] = [:]

    init(validators: ValidatorSet) { self.validators = validators }

    /// Counts a vote whose signature was checked and whose sender is a validator.
    mutating func add(_ signed: SignedVote) -> Outcome {
        let key = Key(round: signed.vote.round, kind: signed.vote.kind)
        if let existing = tallies[key]?.votes[signed.validator] {
            if existing == signed { return .duplicate }
            guard let evidence = DuplicateVoteEvidence(existing, signed) else { return .duplicate }
            return .conflict(evidence)
        }
        let power = validators.power(of: signed.validator)
        tallies[key, default: Tally()].votes[signed.validator] = signed
        tallies[key, default: Tally()].powerByValue[signed.vote.blockHash, default: 0] += power
        tallies[key, default: Tally()].totalPower += power
        hear(from: signed.validator, round: signed.vote.round)
        return .added
    }

    mutating func hear(from validator: Address, round: UInt32) {
        heard[round, default: []].insert(validator)
    }

    /// Whether more than 2/3 of the power voted `kind` in `round` for `value` (nil = no block).
    func hasQuorum(_ kind: Vote.Kind, round: UInt32, for value: Digest?) -> Bool {
        validators.isQuorum(tallies[Key(round: round, kind: kind)]?.powerByValue[value] ?? 0)
    }

    /// Whether more than 2/3 of the power voted `kind` in `round`, for anything.
    func hasQuorumOfAny(_ kind: Vote.Kind, round: UInt32) -> Bool {
        validators.isQuorum(tallies[Key(round: round, kind: kind)]?.totalPower ?? 0)
    }

    /// The block (if any) with a quorum of `kind` votes in `round`.
    func quorumValue(_ kind: Vote.Kind, round: UInt32) -> Digest? {
        tallies[Key(round: round, kind: kind)]?.powerByValue.first { $0.key != nil && validators.isQuorum($0.value) }?.key ?? nil
    }

    /// Rounds above `round` from which more than 1/3 of the power has sent messages.
    func skipTarget(above round: UInt32) -> UInt32? {
        heard.keys.filter { $0 > round }.sorted().first { candidate in
            let power = heard[candidate]!.reduce(UInt64(0)) { $0 + validators.power(of: $1) }
            return power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 1)
        }
    }

    /// Every round in which precommits were counted.
    var precommitRounds: [UInt32] {
        tallies.keys.filter { $0.kind == .precommit }.map(\.round).sorted()
    }

    /// The certificate made of the precommits for `value` in `round`.
    func certificate(round: UInt32, for value: Digest) -> CommitCertificate {
        let precommits = tallies[Key(round: round, kind: .precommit)]?.votes.values.filter { $0.vote.blockHash == value } ?? []
        return CommitCertificate(
            round: round,
            signatures: precommits.sorted { $0.validator < $1.validator }.map { CommitSignature(validator: $0.validator, signature: $0.signature) })
    }
}
