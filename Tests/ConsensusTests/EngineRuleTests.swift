import Consensus
import Crypto
import Ledger
import Testing

/// One test per rule of Algorithm 1 in arXiv 1807.04938 (line numbers in the names), run on
/// the real engine over a real ledger, with the other validators' messages crafted.
@Suite struct EngineRuleTests {
    @Test func line11_startRoundProposesWhenProposerElseSchedulesTimeout() throws {
        let follower = try EngineHarness()
        let effects = follower.handle(.start)
        #expect(effects.sentProposals.isEmpty)
        #expect(effects.scheduled == [Timeout(height: 1, round: 0, kind: .propose)])

        let probe = try EngineHarness()
        let leader = try EngineHarness(me: probe.proposer(round: 0))
        let leaderEffects = leader.handle(.start)
        let proposal = try #require(leaderEffects.sentProposals.first)
        #expect(proposal.proposal.round == 0 && proposal.proposal.validRound == nil)
        // It persists what it signs before sending it, then prevotes its own valid block.
        #expect(leaderEffects.persisted.contains(.proposal(proposal)))
        #expect(leaderEffects.sentVotes.first == Vote(kind: .prevote, height: 1, round: 0, blockHash: proposal.candidate.hash))
        let persistIndex = leaderEffects.firstIndex { if case .persist(.proposal) = $0 { true } else { false } }!
        let broadcastIndex = leaderEffects.firstIndex { if case .broadcast(.proposal) = $0 { true } else { false } }!
        #expect(persistIndex < broadcastIndex)
    }

    @Test func line22_prevoteForAValidProposalWhenNotLocked() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        let effects = node.handle(node.proposal(round: 0, block))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 0, blockHash: block.hash)])
        #expect(node.engine.step == .prevote)
    }

    @Test func line22_prevoteNilForAnInvalidProposal() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        var block = node.candidate(by: node.proposer(round: 0))
        block.header.appHash = Digest.blake2b([1])  // does not match the execution
        let effects = node.handle(node.proposal(round: 0, block))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 0, blockHash: nil)])
    }

    /// Proposals of rounds more than one ahead are kept up to `aheadProposalBytesMax` of
    /// candidates; beyond, they are not kept, but their proposers still count toward skipping.
    @Test func farRoundProposalsAreKeptWithinTheirBudget() throws {
        let node = try EngineHarness()
        var config = node.config
        let transfer = Transaction(sender: node.keys[0].publicKey, nonce: 0, fee: 1_000, body: .transfer(to: node.keys[1].publicKey, amount: 1))
            .signed(by: node.keys[0], chainID: EngineHarness.chainID)
        config.aheadProposalBytesMax = 2 * transfer.byteCount
        node.engine = ConsensusEngine(key: node.keys[node.me], chainID: EngineHarness.chainID, application: node.application, config: config)
        _ = node.handle(.start)
        func block(by index: Int) -> BlockCandidate {
            node.application.execution.propose([transfer], timeMs: node.clockMs, proposer: node.keys[index].publicKey).candidate
        }
        _ = node.handle(node.proposal(round: 1, block(by: node.proposer(round: 1)), by: node.proposer(round: 1)))
        #expect(node.engine.aheadProposalBytes.farRounds == 0)  // the next round is always kept
        for round in [5, 6, 7] as [UInt32] { _ = node.handle(node.proposal(round: round, block(by: node.proposer(round: round)), by: node.proposer(round: round))) }
        #expect(node.engine.aheadProposalBytes.farRounds == 2 * transfer.byteCount)
        #expect(node.engine.round == 0)
    }

    @Test func proposalsFromTheWrongProposerAreIgnored() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let impostor = node.others.first { $0 != node.proposer(round: 0) }!
        let block = node.candidate(by: impostor)
        #expect(node.handle(node.proposal(round: 0, block, by: impostor)).sentVotes.isEmpty)
        #expect(node.engine.step == .propose)
    }

    @Test func line34_twoThirdsOfAnyPrevotesScheduleThePrevoteTimeoutOnce() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .propose)))  // prevote nil
        let a = node.candidate(by: node.proposer(round: 0))
        let b = node.candidate(by: node.proposer(round: 0), timeOffsetMs: 1)
        let others = node.others
        var effects = node.handle(node.vote(.prevote, round: 0, a.hash, by: others[0]))
        #expect(effects.scheduled.isEmpty)
        effects = node.handle(node.vote(.prevote, round: 0, b.hash, by: others[1]))
        #expect(effects.scheduled == [Timeout(height: 1, round: 0, kind: .prevote)])
        effects = node.handle(node.vote(.prevote, round: 0, b.hash, by: others[2]))
        #expect(effects.scheduled.isEmpty)
    }

    @Test func line36_aPolkaLocksAndPrecommits() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, block))
        let effects = node.votes(.prevote, round: 0, block.hash, from: Array(node.others.prefix(2)))
        #expect(effects.sentVotes == [Vote(kind: .precommit, height: 1, round: 0, blockHash: block.hash)])
        #expect(node.engine.step == .precommit)
        // The lock and its polka are in the WAL before the precommit: both survive a restart.
        let lock = try #require(effects.persisted.first)
        guard case let .lock(0, lockedBlock, polka) = lock else { Issue.record("first record is not the lock: \(lock)"); return }
        #expect(lockedBlock == block && polka.count == 3 && polka.allSatisfy { $0.vote.blockHash == block.hash })
    }

    @Test func line36_aPolkaSeenAfterPrecommittingNilBecomesTheValidValueToRepropose() throws {
        let probe = try EngineHarness()
        // This node proposes round 1, not round 0 (weighted round robin never repeats a proposer at equal power).
        try #require(probe.proposer(round: 1) != probe.proposer(round: 0))
        let node = try EngineHarness(me: probe.proposer(round: 1))
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, block))  // prevote block
        let others = node.others
        _ = node.handle(node.vote(.prevote, round: 0, block.hash, by: others[0]))
        _ = node.handle(node.vote(.prevote, round: 0, nil, by: others[1]))  // three prevotes, no polka yet
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .prevote)))  // precommit nil
        #expect(node.engine.step == .precommit)
        // A late polka for the block: no new precommit (not locked), but it becomes the valid value.
        #expect(node.votes(.prevote, round: 0, block.hash, from: [others[2]]).sentVotes.isEmpty)
        _ = node.votes(.precommit, round: 0, nil, from: Array(others.prefix(2)))
        let effects = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        let reproposal = try #require(effects.sentProposals.first)
        #expect(reproposal.proposal.round == 1 && reproposal.proposal.validRound == 0 && reproposal.candidate.hash == block.hash)
    }

    @Test func line44_aNilPolkaPrecommitsNil() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .propose)))
        let effects = node.votes(.prevote, round: 0, nil, from: Array(node.others.prefix(2)))
        #expect(effects.sentVotes == [Vote(kind: .precommit, height: 1, round: 0, blockHash: nil)])
    }

    @Test func line47_twoThirdsOfAnyPrecommitsScheduleThePrecommitTimeout() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let effects = node.votes(.precommit, round: 0, nil, from: Array(node.others.prefix(3)))
        #expect(effects.scheduled.filter { $0.kind == .precommit } == [Timeout(height: 1, round: 0, kind: .precommit)])
    }

    @Test func line49_precommitsOfTwoThirdsDecideWithAVerifiableCertificate() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, block))
        let effects = node.votes(.precommit, round: 0, block.hash, from: Array(node.others.prefix(3)))
        let decided = try #require(effects.committed.first)
        #expect(decided.hash == block.hash)
        try node.store.validatorSet(forHeight: 1).verify(decided.certificate, for: decided.header)
        #expect(node.engine.step == .decided)
        #expect(effects.scheduled.contains(Timeout(height: 1, round: 0, kind: .commit)))

        // After the driver commits and the commit timeout fires, the next height starts.
        try node.application.commit(decided)
        let next = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .commit)))
        #expect(node.engine.height == 2 && node.engine.round == 0)
        #expect(next.persisted.first == .height(2))
    }

    @Test func line49_decisionNeedsTheBlock() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        #expect(node.votes(.precommit, round: 0, block.hash, from: Array(node.others.prefix(3))).committed.isEmpty)
        // The proposal arriving late completes the decision.
        #expect(node.handle(node.proposal(round: 0, block)).committed.first?.hash == block.hash)
    }

    @Test func line55_messagesFromMoreThanAThirdInAHigherRoundSkipToIt() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        _ = node.handle(node.vote(.prevote, round: 5, nil, by: node.others[0]))
        #expect(node.engine.round == 0)  // 10 of 40: not more than 1/3
        _ = node.handle(node.vote(.precommit, round: 5, nil, by: node.others[1]))
        #expect(node.engine.round == 5)
    }

    @Test func line57_to65_timeoutsMoveThroughTheRound() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        #expect(node.handle(.timeout(Timeout(height: 1, round: 0, kind: .propose))).sentVotes
                == [Vote(kind: .prevote, height: 1, round: 0, blockHash: nil)])
        _ = node.votes(.prevote, round: 0, nil, from: [node.others[0]])
        #expect(node.handle(.timeout(Timeout(height: 1, round: 0, kind: .prevote))).sentVotes
                == [Vote(kind: .precommit, height: 1, round: 0, blockHash: nil)])
        // A stale timeout (wrong round) is ignored.
        #expect(node.handle(.timeout(Timeout(height: 1, round: 3, kind: .precommit))).isEmpty)
        let effects = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        #expect(node.engine.round == 1)
        // Timeouts grow with the round.
        let delays = effects.compactMap { if case let .schedule(_, delay) = $0 { delay } else { nil } }
        #expect(delays.allSatisfy { $0 == node.config.delayMs(.propose, round: 1) } && node.config.delayMs(.propose, round: 1) > node.config.delayMs(.propose, round: 0))
    }

    @Test func lockedValidatorPrevotesNilForADifferentBlockWithoutNewerPolka() throws {
        let node = try EngineHarness(notProposing: [0, 1])
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, block))
        _ = node.votes(.prevote, round: 0, block.hash, from: Array(node.others.prefix(2)))  // locked on block in round 0
        _ = node.votes(.precommit, round: 0, nil, from: Array(node.others.prefix(3)))
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        #expect(node.engine.round == 1)
        let other = node.candidate(by: node.proposer(round: 1), timeOffsetMs: 7)
        let effects = node.handle(node.proposal(round: 1, other))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 1, blockHash: nil)])
    }

    @Test func line28_aReproposalWithItsPolkaUnlocks() throws {
        let node = try EngineHarness(notProposing: [0, 1, 2])
        _ = node.handle(.start)
        let first = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, first))
        _ = node.votes(.prevote, round: 0, first.hash, from: Array(node.others.prefix(2)))  // locked on `first` at round 0
        _ = node.votes(.precommit, round: 0, nil, from: Array(node.others.prefix(3)))
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        // Round 1: others prevote `second` (a polka this node did not join).
        let second = node.candidate(by: node.proposer(round: 1), timeOffsetMs: 9)
        _ = node.votes(.prevote, round: 1, second.hash, from: Array(node.others.prefix(3)))
        _ = node.votes(.precommit, round: 1, nil, from: Array(node.others.prefix(3)))
        _ = node.handle(.timeout(Timeout(height: 1, round: 1, kind: .precommit)))
        #expect(node.engine.round == 2)
        // Without the polka it claims, a re-proposal waits; with it (round 1 > lock round 0) it gets a prevote.
        let reproposal = node.proposal(round: 2, second, validRound: 1)
        #expect(node.handle(reproposal).sentVotes == [Vote(kind: .prevote, height: 1, round: 2, blockHash: second.hash)])
    }

    @Test func line28_aReproposalWithoutItsPolkaWaits() throws {
        let node = try EngineHarness(notProposing: [0, 1])
        _ = node.handle(.start)
        _ = node.votes(.precommit, round: 0, nil, from: Array(node.others.prefix(3)))
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        let block = node.candidate(by: node.proposer(round: 1))
        #expect(node.handle(node.proposal(round: 1, block, validRound: 0)).sentVotes.isEmpty)
        // The polka arriving later releases the prevote.
        let effects = node.votes(.prevote, round: 0, block.hash, from: Array(node.others.prefix(3)))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 1, blockHash: block.hash)])
    }

    @Test func conflictingVotesBecomeEvidenceAndBothCount() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let a = node.candidate(by: node.proposer(round: 0))
        let byzantine = node.others[0]
        _ = node.handle(node.vote(.prevote, round: 0, nil, by: byzantine))
        let effects = node.handle(node.vote(.prevote, round: 0, a.hash, by: byzantine))
        let evidence = try #require(effects.evidence.first)
        #expect(evidence.validator == node.keys[byzantine].publicKey && evidence.defect(chainID: EngineHarness.chainID) == nil)
        // A repeat of either vote is not evidence again.
        #expect(node.handle(node.vote(.prevote, round: 0, a.hash, by: byzantine)).evidence.isEmpty)
    }

    @Test func votesFromNonValidatorsAreIgnored() throws {
        let node = try EngineHarness()
        _ = node.handle(.start)
        let stranger = SigningKey()
        let foreign = SignedVote(Vote(kind: .precommit, height: 1, round: 3, blockHash: nil), signedBy: stranger, chainID: EngineHarness.chainID)
        _ = node.handle(.message(.vote(foreign)))
        _ = node.handle(node.vote(.precommit, round: 3, nil, by: node.others[1]))
        // Only one validator message from round 3 counted: 10 of 40 power, no skip.
        #expect(node.engine.round == 0)
    }

    /// Signatures are checked where messages enter (gossip), once: a message signed for another
    /// chain, by someone else, or with a block other than the one signed is not authentic.
    @Test func authenticityCoversSignatureChainAndBlock() throws {
        let node = try EngineHarness()
        let key = node.keys[node.others[0]]
        let vote = Vote(kind: .precommit, height: 1, round: 3, blockHash: nil)
        #expect(ConsensusMessage.vote(SignedVote(vote, signedBy: key, chainID: EngineHarness.chainID)).isAuthentic(chainID: EngineHarness.chainID))
        #expect(!ConsensusMessage.vote(SignedVote(vote, signedBy: key, chainID: "other-chain")).isAuthentic(chainID: EngineHarness.chainID))
        let forged = SignedVote(vote: vote, validator: node.keys[node.others[1]].publicKey,
                                signature: SignedVote(vote, signedBy: key, chainID: EngineHarness.chainID).signature)
        #expect(!ConsensusMessage.vote(forged).isAuthentic(chainID: EngineHarness.chainID))
        let block = node.candidate(by: node.proposer(round: 0))
        var swapped = node.candidate(by: node.proposer(round: 0), timeOffsetMs: 1)
        swapped.header.proposer = block.header.proposer
        let signed = SignedProposal(Proposal(height: 1, round: 0, validRound: nil, blockHash: block.hash), candidate: block,
                                    signedBy: node.keys[node.proposer(round: 0)], chainID: EngineHarness.chainID)
        #expect(ConsensusMessage.proposal(signed).isAuthentic(chainID: EngineHarness.chainID))
        let carriesAnother = SignedProposal(proposal: signed.proposal, candidate: swapped, proposer: signed.proposer, signature: signed.signature)
        #expect(!ConsensusMessage.proposal(carriesAnother).isAuthentic(chainID: EngineHarness.chainID))
    }
}
