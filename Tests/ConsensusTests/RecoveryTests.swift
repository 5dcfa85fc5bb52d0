import Consensus
import Crypto
import Foundation
import Ledger
import Testing

/// A validator that crashes and restarts never signs two different messages for one height,
/// round and step, and keeps its lock.
@Suite struct RecoveryTests {
    /// Hands `event` to `node` and writes what it persists to `wal`, as the node driver does.
    static func handle(_ event: ConsensusEvent, by node: EngineHarness, loggingTo wal: ConsensusWAL) throws {
        for case let .persist(record) in node.handle(event) {
            if case let .height(height) = record { try wal.startHeight(height) } else { try wal.append(record) }
        }
    }

    @Test func aRestartedValidatorResendsWhatItSignedAndNothingElse() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let walPath = directory + "/consensus.wal"
        var signed: [WALRecord] = []
        let block: BlockCandidate
        do {
            let node = try EngineHarness(notProposing: [0, 1], directory: directory)
            let wal = try ConsensusWAL(path: walPath)
            func run(_ event: ConsensusEvent) throws { try Self.handle(event, by: node, loggingTo: wal) }
            try run(.start)
            block = node.candidate(by: node.proposer(round: 0))
            try run(node.proposal(round: 0, block))
            for other in node.others.prefix(2) { try run(node.vote(.prevote, round: 0, block.hash, by: other)) }
            signed = wal.records
            #expect(signed.count == 4)  // height, prevote, lock with its polka, precommit
        }
        // Restart: a new engine over the same store and WAL.
        let wal = try ConsensusWAL(path: walPath)
        #expect(wal.records == signed)
        let node = try EngineHarness(notProposing: [0, 1], recovered: wal.records, directory: directory)
        let effects = node.handle(.start)
        // It sends its earlier votes again and writes nothing new.
        #expect(effects.persisted.isEmpty)
        #expect(effects.sentVotes.map(\.kind) == [.prevote, .precommit])
        #expect(effects.sentVotes.allSatisfy { $0.blockHash == block.hash })
        // The polka behind its lock is back too, for gossip to show peers.
        let gossiped = node.engine.messagesToGossip().compactMap { if case let .vote(vote) = $0 { vote } else { nil } }
        #expect(Set(gossiped.filter { $0.vote.kind == .prevote && $0.vote.blockHash == block.hash }.map(\.validator)).count == 3)
        // A prevote timeout for round 0 would make a fresh node sign nil: this one stays silent.
        #expect(node.handle(.timeout(Timeout(height: 1, round: 0, kind: .prevote))).sentVotes.isEmpty)
        // It is still locked on the block: in round 1 it prevotes nil for another one.
        _ = node.votes(.precommit, round: 0, nil, from: Array(node.others.prefix(3)))
        _ = node.handle(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
        let other = node.candidate(by: node.proposer(round: 1), timeOffsetMs: 3)
        #expect(node.handle(node.proposal(round: 1, other)).sentVotes == [Vote(kind: .prevote, height: 1, round: 1, blockHash: nil)])
    }

    /// A validator that left round 0 on other validators' precommits, without a precommit of
    /// its own, counts and gossips those precommits again after a restart, so peers still in
    /// round 0 can follow it (the sweep's seed 70660 stalled without this).
    @Test func aRestartedValidatorKeepsTheVotesThatMovedItToALaterRound() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let walPath = directory + "/consensus.wal"
        let senders: [Int]
        do {
            let node = try EngineHarness(notProposing: [0, 1], directory: directory)
            let wal = try ConsensusWAL(path: walPath)
            func run(_ event: ConsensusEvent) throws { try Self.handle(event, by: node, loggingTo: wal) }
            try run(.start)
            senders = Array(node.others.prefix(3))
            for other in senders { try run(node.vote(.precommit, round: 0, nil, by: other)) }
            try run(.timeout(Timeout(height: 1, round: 0, kind: .precommit)))
            #expect(!wal.records.contains { if case .vote = $0 { true } else { false } }, "it signed nothing in round 0")
        }
        let wal = try ConsensusWAL(path: walPath)
        let node = try EngineHarness(notProposing: [0, 1], recovered: wal.records, directory: directory)
        _ = node.handle(.start)
        let gossiped = node.engine.messagesToGossip().compactMap { if case let .vote(vote) = $0 { vote } else { nil } }
        let roundZeroPrecommits = gossiped.filter { $0.vote.kind == .precommit && $0.vote.round == 0 }
        #expect(Set(roundZeroPrecommits.map(\.validator)) == Set(senders.map { node.keys[$0].publicKey }))
        // It resumes in round 1: a proposal there gets its prevote.
        let block = node.candidate(by: node.proposer(round: 1))
        #expect(node.handle(node.proposal(round: 1, block)).sentVotes.map(\.round) == [1])
    }
}
