import Crypto
import Ledger

/// The consensus algorithm of "The latest gossip on BFT consensus" (Buchman, Kwon,
/// Milosevic, arXiv 1807.04938) as a deterministic state machine: events in, effects out.
///
/// Heights advance through rounds of propose, prevote and precommit. Quorums are more than
/// 2/3 of the voting power; more than 1/3 of the power seen in a higher round makes the
/// engine skip to it. Each rule below names the line of the paper's Algorithm 1 it follows.
/// The engine signs with the validator key but keeps no clock, socket or thread: the driver
/// (the node, or the simulator) delivers messages and timeouts and carries out the effects —
/// persisting each signed message before sending it, so a restarted node never signs two
/// different messages for one height, round and step.
public struct ConsensusEngine {
    public enum Step: Sendable, Equatable {
        /// A height began and waits for transactions (or for a peer's message) to start round 0.
        case waitingForTransactions
        case propose, prevote, precommit
        /// The height is decided; the next starts at the commit timeout.
        case decided
    }

    /// Votes and proposals from up to this many rounds ahead are kept.
    public static let roundsAheadMax: UInt32 = 10_000
    /// Messages of a later height kept until it starts, per validator of that height.
    public static let futureMessagesPerValidatorMax = 64

    public let config: ConsensusConfig
    public let chainID: String
    public let key: SigningKey
    private let app: any ConsensusApplication

    public private(set) var height: UInt64 = 0
    public private(set) var round: UInt32 = 0
    public private(set) var step: Step = .waitingForTransactions
    public private(set) var validators = ValidatorSet([])
    /// This height's proposers by round, from its schedule.
    private var proposers = ProposerSchedule(starting: ValidatorSet([])).rounds()

    private var locked: (round: UInt32, candidate: BlockCandidate)?
    private var valid: (round: UInt32, candidate: BlockCandidate)?
    private var proposals: [UInt32: SignedProposal] = [:]
    private var candidates: [Digest: BlockCandidate] = [:]
    private var validity: [Digest: Bool] = [:]
    private var votes = VoteBook(validators: ValidatorSet([]))
    private var prevoteTimeoutRounds: Set<UInt32> = []
    private var precommitTimeoutRounds: Set<UInt32> = []
    private var polkaRounds: Set<UInt32> = []
    /// What this node signed at the current height, per round and step (nil = for no block).
    private var signed: [SigningSlot: Digest?] = [:]
    /// Messages of later heights from their validators, at most `futureMessagesPerValidatorMax`
    /// per validator and height (the latest rounds kept).
    private var future: [ConsensusMessage] = []
    private var futureCounts: [FutureSlot: Int] = [:]
    /// Candidate bytes kept from proposals of far rounds of this height, and of later heights
    /// (each at most `config.aheadProposalBytesMax`).
    private var farProposalBytes = 0
    private var futureProposalBytes = 0
    private var syncPending = false
    private var recovered: [WALRecord]
    private var effects: [ConsensusEffect] = []

    struct FutureSlot: Hashable {
        let height: UInt64
        let sender: Address
    }

    struct SigningSlot: Hashable {
        let round: UInt32
        let step: UInt8  // 0 proposal, 1 prevote, 2 precommit
    }

    /// An engine for `key`'s validator. `recovered` holds the WAL records of a previous run:
    /// what this validator already signed at the height it was working on.
    public init(key: SigningKey, chainID: String, application: any ConsensusApplication,
                config: ConsensusConfig = ConsensusConfig(), recovered: [WALRecord] = []) {
        self.key = key
        self.chainID = chainID
        self.app = application
        self.config = config
        self.recovered = recovered
    }

    /// Feeds one event and returns the effects to carry out, in order.
    public mutating func handle(_ event: ConsensusEvent) -> [ConsensusEffect] {
        effects = []
        // Nothing happens before the first height begins: there is no validator set yet, and
        // `start` itself looks for pending transactions and replays buffered work.
        if height == 0, !event.isStart { return [] }
        switch event {
        case .start:
            enterHeight()
        case let .message(message):
            receive(message)
        case let .timeout(timeout):
            onTimeout(timeout)
        case .transactionsAvailable:
            if step == .waitingForTransactions { startRound(0) }
        case let .blockReceived(block):
            if block.header.height == height, step != .decided, app.isValidCommitted(block) {
                decide(block, delayMs: 0)
            }
        }
        applyRules()
        return effects
    }

    /// What gossip should keep sending to peers at this height: the proposals and votes of
    /// the current and previous round, and of the rounds whose polka the lock and the valid
    /// value rest on. Peers that missed a message get it again, so after the network
    /// stabilises every honest node eventually sees what any honest node saw.
    public func messagesToGossip() -> [ConsensusMessage] {
        var rounds: Set<UInt32> = [round]
        if round > 0 { rounds.insert(round - 1) }
        if let locked { rounds.insert(locked.round) }
        if let valid { rounds.insert(valid.round) }
        var messages: [ConsensusMessage] = []
        for gossipRound in rounds.sorted() {
            if let proposal = proposals[gossipRound] { messages.append(.proposal(proposal)) }
            if let validRound = proposals[gossipRound]?.proposal.validRound, !rounds.contains(validRound) {
                messages += votes.votes(.prevote, round: validRound).map { .vote($0) }
            }
            messages += votes.votes(.prevote, round: gossipRound).map { .vote($0) }
            messages += votes.votes(.precommit, round: gossipRound).map { .vote($0) }
        }
        return messages
    }

    // MARK: Heights and rounds

    private mutating func enterHeight() {
        let next = app.nextHeight()
        height = next.height
        validators = next.validators
        proposers = next.schedule.rounds()
        round = 0
        step = .waitingForTransactions
        locked = nil
        valid = nil
        proposals = [:]
        candidates = [:]
        validity = [:]
        votes = VoteBook(validators: validators)
        prevoteTimeoutRounds = []
        precommitTimeoutRounds = []
        polkaRounds = []
        signed = [:]
        syncPending = false

        var startRoundNumber: UInt32?
        if case .height(height) = recovered.first {
            startRoundNumber = restore(recovered.dropFirst())
        } else {
            effects.append(.persist(.height(height)))
        }
        recovered = []

        let pending = future.filter { $0.height == height }
        future = future.filter { $0.height > height }
        futureCounts = futureCounts.filter { $0.key.height > height }
        farProposalBytes = 0
        futureProposalBytes = future.reduce(0) { $0 + Self.candidateBytes($1) }
        for message in pending { receive(message) }

        if let startRoundNumber {
            startRound(startRoundNumber)
        } else if step == .waitingForTransactions && (config.createEmptyBlocks || app.hasPendingTransactions) {
            startRound(0)
        }
    }

    /// Rebuilds what this validator signed before a restart (votes count again, the lock
    /// is back) and sends it again, with the votes that moved it to later rounds. Returns the
    /// round to resume.
    private mutating func restore(_ records: ArraySlice<WALRecord>) -> UInt32 {
        var resume: UInt32 = 0
        for record in records {
            switch record {
            case let .vote(vote):
                let slot = SigningSlot(round: vote.vote.round, step: vote.vote.kind == .prevote ? 1 : 2)
                signed[slot] = .some(vote.vote.blockHash)
                _ = votes.add(vote)
                effects.append(.broadcast(.vote(vote)))
                resume = max(resume, vote.vote.round)
            case let .lock(lockRound, block, polka):
                locked = (lockRound, block)
                valid = (lockRound, block)
                candidates[block.hash] = block
                for vote in polka { _ = votes.add(vote) }
            case let .proposal(proposal):
                signed[SigningSlot(round: proposal.proposal.round, step: 0)] = .some(proposal.proposal.blockHash)
                proposals[proposal.proposal.round] = proposal
                candidates[proposal.candidate.hash] = proposal.candidate
                effects.append(.broadcast(.proposal(proposal)))
                resume = max(resume, proposal.proposal.round)
            case let .roundChange(round, justification):
                for vote in justification { _ = votes.add(vote) }
                resume = max(resume, round)
            case .height:
                break
            }
        }
        return resume
    }

    /// StartRound(round) — lines 11-21.
    private mutating func startRound(_ newRound: UInt32) {
        round = newRound
        step = .propose
        guard proposers.proposer(round: newRound) == key.publicKey, isValidator else {
            effects.append(.schedule(Timeout(height: height, round: newRound, kind: .propose),
                                     delayMs: config.delayMs(.propose, round: newRound)))
            return
        }
        if let mine = proposals[newRound], mine.proposer == key.publicKey {
            effects.append(.broadcast(.proposal(mine)))
            return
        }
        let candidate = valid?.candidate ?? app.propose(proposer: key.publicKey)
        let proposal = Proposal(height: height, round: newRound, validRound: valid?.round, blockHash: candidate.hash)
        guard claim(SigningSlot(round: newRound, step: 0), for: candidate.hash) else { return }
        let signedProposal = SignedProposal(proposal, candidate: candidate, signedBy: key, chainID: chainID)
        effects.append(.persist(.proposal(signedProposal)))
        effects.append(.broadcast(.proposal(signedProposal)))
        accept(signedProposal)
    }

    private var isValidator: Bool { validators.power(of: key.publicKey) > 0 }

    // MARK: Messages

    /// Takes a message whose signature the driver checked (`ConsensusMessage.isAuthentic`): gossip
    /// checks each message once, before anything acts on it or relays it.
    private mutating func receive(_ message: ConsensusMessage) {
        guard message.height == height else {
            if message.height > height { rememberFuture(message) }
            return
        }
        guard message.round <= round &+ Self.roundsAheadMax else { return }
        switch message {
        case let .vote(vote):
            guard !votes.contains(vote), validators.power(of: vote.validator) > 0 else { return }
            if case let .conflict(evidence) = votes.add(vote) { effects.append(.evidence(evidence)) }
        case let .proposal(proposal):
            guard proposals[proposal.proposal.round] == nil,
                  proposal.proposer == proposers.proposer(round: proposal.proposal.round)
            else { return }
            if proposal.proposal.round > round &+ 1 {
                let bytes = Self.candidateBytes(message)
                guard farProposalBytes + bytes <= config.aheadProposalBytesMax else {
                    votes.hear(from: proposal.proposer, round: proposal.proposal.round)  // still counts toward skipping
                    break
                }
                farProposalBytes += bytes
            }
            accept(proposal)
        }
        if step == .waitingForTransactions { startRound(0) }
    }

    private mutating func accept(_ proposal: SignedProposal) {
        proposals[proposal.proposal.round] = proposal
        candidates[proposal.candidate.hash] = proposal.candidate
        votes.hear(from: proposal.proposer, round: proposal.proposal.round)
    }

    /// A message from a later height: keep it when its sender validates that height (known up
    /// to two heights past the last committed block: all gossip delivers), at most
    /// `futureMessagesPerValidatorMax` per sender and height — beyond, its lowest round goes, so
    /// no one crowds out the others — and fetch the blocks this node is missing (at most once
    /// per retry interval).
    private mutating func rememberFuture(_ message: ConsensusMessage) {
        let bytes = Self.candidateBytes(message)
        if let laterValidators = app.validatorSet(forHeight: message.height), laterValidators.power(of: message.sender) > 0,
           futureProposalBytes + bytes <= config.aheadProposalBytesMax {
            let slot = FutureSlot(height: message.height, sender: message.sender)
            if futureCounts[slot, default: 0] < Self.futureMessagesPerValidatorMax {
                futureCounts[slot, default: 0] += 1
                future.append(message)
                futureProposalBytes += bytes
            } else if let lowest = future.indices.filter({ future[$0].height == slot.height && future[$0].sender == slot.sender })
                .min(by: { future[$0].round < future[$1].round }), future[lowest].round < message.round {
                futureProposalBytes += bytes - Self.candidateBytes(future[lowest])
                future[lowest] = message
            }
        }
        guard step != .decided, !syncPending else { return }
        syncPending = true
        effects.append(.requestBlocks(fromHeight: height))
        effects.append(.schedule(Timeout(height: height, round: round, kind: .sync), delayMs: config.delayMs(.sync, round: round)))
    }

    /// The transactions' bytes of a proposal's block candidate (0 for a vote).
    static func candidateBytes(_ message: ConsensusMessage) -> Int {
        guard case let .proposal(proposal) = message else { return 0 }
        return proposal.candidate.transactions.reduce(0) { $0 + $1.byteCount }
    }

    /// Candidate bytes held for far rounds of this height and for later heights.
    public var aheadProposalBytes: (farRounds: Int, laterHeights: Int) { (farProposalBytes, futureProposalBytes) }

    // MARK: Timeouts

    private mutating func onTimeout(_ timeout: Timeout) {
        guard timeout.height == height else { return }
        switch timeout.kind {
        case .propose:  // OnTimeoutPropose — line 57
            if timeout.round == round && step == .propose {
                castVote(.prevote, for: nil)
                step = .prevote
            }
        case .prevote:  // OnTimeoutPrevote — line 61
            if timeout.round == round && step == .prevote {
                castVote(.precommit, for: nil)
                step = .precommit
            }
        case .precommit:  // OnTimeoutPrecommit — line 65
            if timeout.round == round && step != .decided {
                effects.append(.persist(.roundChange(round: round + 1, votes: votes.votes(.precommit, round: round))))
                startRound(round + 1)
            }
        case .commit:
            if step == .decided { enterHeight() }
        case .sync:
            syncPending = false
        }
    }

    // MARK: Rules

    /// Applies the upon-rules until none fires.
    private mutating func applyRules() {
        while step != .waitingForTransactions {
            if decideIfCommitted() { continue }
            if step == .decided { return }
            if let target = votes.skipTarget(above: round) {  // line 55
                effects.append(.persist(.roundChange(round: target, votes: votes.votes(.prevote, round: target) + votes.votes(.precommit, round: target))))
                startRound(target)
                continue
            }
            if prevoteOnProposal() || scheduleTimeouts() || lockOnPolka() || precommitNilOnNilPolka() { continue }
            return
        }
    }

    /// Lines 22-33: the first proposal of the round gets this node's prevote.
    private mutating func prevoteOnProposal() -> Bool {
        guard step == .propose, let proposal = proposals[round] else { return false }
        let candidate = proposal.candidate
        let acceptable: Bool
        if let validRound = proposal.proposal.validRound {
            // Line 28: a re-proposal needs the polka it claims, from an earlier round.
            guard validRound < round, votes.hasQuorum(.prevote, round: validRound, for: candidate.hash) else { return false }
            acceptable = isValid(candidate) && (locked.map { $0.round <= validRound || $0.candidate.hash == candidate.hash } ?? true)
        } else {
            // A new block must also be timely for this node's clock (asked afresh each round).
            acceptable = isValid(candidate) && app.isTimely(candidate) && (locked.map { $0.candidate.hash == candidate.hash } ?? true)
        }
        castVote(.prevote, for: acceptable ? candidate.hash : nil)
        step = .prevote
        return true
    }

    /// Lines 34-35 and 47-48: schedule the prevote and precommit timeouts once per round.
    private mutating func scheduleTimeouts() -> Bool {
        if step == .prevote, !prevoteTimeoutRounds.contains(round), votes.hasQuorumOfAny(.prevote, round: round) {
            prevoteTimeoutRounds.insert(round)
            effects.append(.schedule(Timeout(height: height, round: round, kind: .prevote), delayMs: config.delayMs(.prevote, round: round)))
            return true
        }
        if !precommitTimeoutRounds.contains(round), votes.hasQuorumOfAny(.precommit, round: round) {
            precommitTimeoutRounds.insert(round)
            effects.append(.schedule(Timeout(height: height, round: round, kind: .precommit), delayMs: config.delayMs(.precommit, round: round)))
            return true
        }
        return false
    }

    /// Lines 36-43: a polka for the round's proposal locks it (when still prevoting) and makes
    /// it the valid value.
    private mutating func lockOnPolka() -> Bool {
        guard step == .prevote || step == .precommit, !polkaRounds.contains(round), let proposal = proposals[round] else { return false }
        let candidate = proposal.candidate
        guard votes.hasQuorum(.prevote, round: round, for: candidate.hash), isValid(candidate) else { return false }
        polkaRounds.insert(round)
        if step == .prevote {
            locked = (round, candidate)
            if isValidator {
                let polka = votes.votes(.prevote, round: round).filter { $0.vote.blockHash == candidate.hash }
                effects.append(.persist(.lock(round: round, block: candidate, polka: polka)))
            }
            castVote(.precommit, for: candidate.hash)
            step = .precommit
        }
        valid = (round, candidate)
        return true
    }

    /// Lines 44-46: a polka for no block.
    private mutating func precommitNilOnNilPolka() -> Bool {
        guard step == .prevote, votes.hasQuorum(.prevote, round: round, for: nil) else { return false }
        castVote(.precommit, for: nil)
        step = .precommit
        return true
    }

    /// Lines 49-54: precommits of more than 2/3 for a known, valid block in any round decide it.
    private mutating func decideIfCommitted() -> Bool {
        guard step != .decided else { return false }
        for precommitRound in votes.precommitRounds {
            guard let hash = votes.quorumValue(.precommit, round: precommitRound), let candidate = candidates[hash],
                  isValid(candidate)
            else { continue }
            decide(Block(candidate, certificate: votes.certificate(round: precommitRound, for: hash)), delayMs: config.commitDelayMs)
            return true
        }
        return false
    }

    private mutating func decide(_ block: Block, delayMs: UInt64) {
        step = .decided
        effects.append(.commit(block))
        effects.append(.schedule(Timeout(height: height, round: round, kind: .commit), delayMs: delayMs))
    }

    // MARK: Signing

    private mutating func isValid(_ candidate: BlockCandidate) -> Bool {
        if let known = validity[candidate.hash] { return known }
        let verdict = app.isValid(candidate)
        validity[candidate.hash] = verdict
        return verdict
    }

    /// Records that this node signs `value` in `slot`; false if it already signed something
    /// else there (the message is then not produced), or if this node is not a validator.
    private mutating func claim(_ slot: SigningSlot, for value: Digest?) -> Bool {
        guard isValidator else { return false }
        if let previous = signed[slot] { return previous == value }
        signed[slot] = .some(value)
        return true
    }

    private mutating func castVote(_ kind: Vote.Kind, for value: Digest?) {
        let slot = SigningSlot(round: round, step: kind == .prevote ? 1 : 2)
        let firstTime = signed[slot] == nil
        guard claim(slot, for: value) else { return }
        let vote = SignedVote(Vote(kind: kind, height: height, round: round, blockHash: value), signedBy: key, chainID: chainID)
        if firstTime { effects.append(.persist(.vote(vote))) }
        effects.append(.broadcast(.vote(vote)))
        _ = votes.add(vote)
    }
}
