import Crypto
import Ledger

/// The votes of one height, counted by power per round, kind and value.
///
/// As in the paper, a quorum for a value counts distinct validators that voted for that
/// value. A validator that votes for two values (equivocation) is counted for both — two
/// quorums for different values still overlap in an honest validator, since more than 1/3
/// of the power is in both and at most 1/3 is Byzantine — and its second vote comes back as
/// evidence. Counting both matters for liveness: honest nodes that first heard a Byzantine
/// validator's bogus vote still count its real one when gossip brings it.
struct VoteBook {
    /// Distinct values kept per validator, round and kind; more are dropped as spam.
    static let valuesPerValidatorMax = 4

    struct Key: Hashable {
        let round: UInt32
        let kind: Vote.Kind
    }

    /// Votes of one round and kind.
    struct Tally {
        /// Each validator's votes, first one first.
        var votes: [Address: [SignedVote]] = [:]
        var powerByValue: [Digest?: UInt64] = [:]
        /// Power of the distinct validators that voted, for anything.
        var totalPower: UInt64 = 0
    }

    enum Outcome {
        case added
        case duplicate
        case conflict(DuplicateVoteEvidence)
    }

    let validators: ValidatorSet
    private(set) var tallies: [Key: Tally] = [:]
    /// The validators heard from (any message) per round, for round skipping.
    private var heard: [UInt32: Set<Address>] = [:]

    init(validators: ValidatorSet) { self.validators = validators }

    /// Whether this exact vote was counted already (gossip repeats messages; checking here
    /// first spares verifying their signatures again).
    func contains(_ signed: SignedVote) -> Bool {
        tallies[Key(round: signed.vote.round, kind: signed.vote.kind)]?.votes[signed.validator]?.contains(signed) ?? false
    }

    /// Counts a vote whose signature was checked and whose sender is a validator.
    mutating func add(_ signed: SignedVote) -> Outcome {
        let key = Key(round: signed.vote.round, kind: signed.vote.kind)
        let earlier = tallies[key]?.votes[signed.validator] ?? []
        if earlier.contains(where: { $0.vote.blockHash == signed.vote.blockHash }) { return .duplicate }
        guard earlier.count < Self.valuesPerValidatorMax else { return .duplicate }
        let power = validators.power(of: signed.validator)
        tallies[key, default: Tally()].votes[signed.validator, default: []].append(signed)
        tallies[key, default: Tally()].powerByValue[signed.vote.blockHash, default: 0] += power
        if earlier.isEmpty { tallies[key, default: Tally()].totalPower += power }
        hear(from: signed.validator, round: signed.vote.round)
        if let first = earlier.first, let evidence = DuplicateVoteEvidence(first, signed) { return .conflict(evidence) }
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

    /// The block (if any) with a quorum of `kind` votes in `round`; at most one can have one.
    func quorumValue(_ kind: Vote.Kind, round: UInt32) -> Digest? {
        tallies[Key(round: round, kind: kind)]?.powerByValue.first { $0.key != nil && validators.isQuorum($0.value) }?.key ?? nil
    }

    /// The lowest round above `round` from which more than 1/3 of the power has sent messages.
    func skipTarget(above round: UInt32) -> UInt32? {
        heard.keys.filter { $0 > round }.sorted().first { candidate in
            let power = heard[candidate]!.reduce(UInt64(0)) { $0 + validators.power(of: $1) }
            return power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 1)
        }
    }

    /// Every round in which precommits were counted, ascending.
    var precommitRounds: [UInt32] {
        tallies.keys.filter { $0.kind == .precommit }.map(\.round).sorted()
    }

    /// All votes of `kind` in `round`, in validator order.
    func votes(_ kind: Vote.Kind, round: UInt32) -> [SignedVote] {
        guard let tally = tallies[Key(round: round, kind: kind)] else { return [] }
        return tally.votes.keys.sorted().flatMap { tally.votes[$0]! }
    }

    /// The certificate made of the precommits for `value` in `round`.
    func certificate(round: UInt32, for value: Digest) -> CommitCertificate {
        let precommits = votes(.precommit, round: round).filter { $0.vote.blockHash == value }
        return CommitCertificate(
            round: round, signatures: precommits.map { CommitSignature(validator: $0.validator, signature: $0.signature) })
    }
}
