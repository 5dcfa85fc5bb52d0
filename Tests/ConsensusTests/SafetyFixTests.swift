import Consensus
import Crypto
import Foundation
import Ledger
import Testing

/// Regressions for the safety problems found in review of the single-node engine (issue 18,
/// part 7). Each test failed before its fix.
@Suite struct SafetyFixTests {
    // MARK: Proposal time and the local clock

    /// A node whose clock lags the proposer's by more than the allowed drift prevotes nil on
    /// the fresh proposal, but once the other validators' prevotes make a polka it locks and
    /// precommits like everyone else: the block's validity does not depend on its clock.
    @Test func aLaggingClockDoesNotStallAHeight() throws {
        let node = try EngineHarness(notProposing: [0, 1])
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0), timeOffsetMs: LedgerApplication.clockDriftMaxMs + 30_000)
        #expect(node.handle(node.proposal(round: 0, block)).sentVotes == [Vote(kind: .prevote, height: 1, round: 0, blockHash: nil)])
        let polka = node.votes(.prevote, round: 0, block.hash, from: node.others)
        #expect(polka.sentVotes == [Vote(kind: .precommit, height: 1, round: 0, blockHash: block.hash)])
    }

    /// In a later round the same block, re-proposed on its polka, gets this node's prevote.
    @Test func aRepropsalOnAPolkaIsPrevotedDespiteTheClock() throws {
        let node = try EngineHarness(notProposing: [0, 1])
        _ = node.handle(.start)
        let block = node.candidate(by: node.proposer(round: 0), timeOffsetMs: LedgerApplication.clockDriftMaxMs + 30_000)
        _ = node.handle(node.proposal(round: 0, block))
        // Two prevotes for the block, one nil: no polka this node sees in round 0 at first.
        _ = node.votes(.prevote, round: 0, block.hash, from: Array(node.others.prefix(2)))
        _ = node.handle(node.vote(.prevote, round: 0, nil, by: node.others[2]))
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .prevote)))
        _ = node.votes(.precommit, round: 0, nil, from: node.others)
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        #expect(node.engine.round == 1)
        // The polka of round 0 arrives late (the third prevote), and round 1 re-proposes the block.
        _ = node.handle(node.vote(.prevote, round: 0, block.hash, by: node.others[2]))
        let effects = node.handle(node.proposal(round: 1, block, validRound: 0))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 1, blockHash: block.hash)])
    }

    /// A fresh proposal refused for its time is judged again in a later round, when the clock
    /// has caught up: the refusal is not remembered for the height.
    @Test func timelinessIsJudgedAgainInEachRound() throws {
        let node = try EngineHarness(notProposing: [0, 1, 2])
        _ = node.handle(.start)
        let ahead = LedgerApplication.clockDriftMaxMs + 30_000
        let block = node.candidate(by: node.proposer(round: 0), timeOffsetMs: ahead)
        #expect(node.handle(node.proposal(round: 0, block)).sentVotes.first?.blockHash == nil)
        _ = node.votes(.precommit, round: 0, nil, from: node.others)
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        node.clock.ms += ahead
        // The round-1 proposer proposes the same contents, as new, once this clock caught up.
        let effects = node.handle(node.proposal(round: 1, block))
        #expect(effects.sentVotes == [Vote(kind: .prevote, height: 1, round: 1, blockHash: block.hash)])
    }

    // MARK: Events before the first height

    /// A transaction submitted before the node's consensus thread started the first height
    /// crashed the engine (a proposer looked up in the empty schedule): `tributary bench ledger`
    /// aborted now and then this way. Events before `start` are ignored.
    @Test func eventsBeforeStartAreIgnored() throws {
        let node = try EngineHarness()
        #expect(node.handle(.transactionsAvailable).isEmpty)
        #expect(node.handle(node.vote(.prevote, round: 0, nil, by: node.others[0])).isEmpty)
        #expect(node.handle(.timeout(Timeout(height: 1, round: 0, kind: .propose))).isEmpty)
        #expect(node.engine.height == 0)
        #expect(!node.handle(.start).isEmpty)
        #expect(node.engine.height == 1)
    }

    // MARK: Messages of the next height

    /// Next-height messages from non-validators are not buffered, and one validator cannot
    /// crowd out the others: after 10,000 such messages, the other validators' precommits for
    /// the next height still count once the node gets there.
    @Test func nextHeightSpamDoesNotCrowdOutValidators() throws {
        // The spammer holds little power: the other three still make a quorum without it.
        let node = try EngineHarness(powers: [10, 10, 10, 10, 1], notProposing: [0])
        _ = node.handle(.start)
        let stranger = SigningKey()
        let spammer = 4
        try #require(node.me != spammer)
        for round in UInt32(0)..<5_000 {
            for key in [stranger, node.keys[spammer]] {
                let vote = SignedVote(Vote(kind: .prevote, height: 2, round: round + 1, blockHash: nil), signedBy: key, chainID: EngineHarness.chainID)
                _ = node.handle(.message(.vote(vote)))
            }
        }
        for other in node.others where other != spammer {
            _ = node.handle(node.vote(.precommit, round: 0, nil, by: other, height: 2))
        }
        // Decide height 1 and enter height 2.
        let block = node.candidate(by: node.proposer(round: 0))
        _ = node.handle(node.proposal(round: 0, block))
        let decided = node.votes(.precommit, round: 0, block.hash, from: node.others).committed
        try #require(decided.count == 1)
        try node.application.commit(decided[0])
        let effects = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .commit)))
        #expect(node.engine.height == 2)
        #expect(effects.scheduled.contains(Timeout(height: 2, round: 0, kind: .precommit)))
    }
}
