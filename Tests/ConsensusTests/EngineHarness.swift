import Consensus
import Crypto
import Foundation
import Ledger

/// One validator's consensus engine over a real ledger (RocksDB store in a temporary
/// directory), with the other validators' keys at hand to craft their messages.
final class EngineHarness {
    static let chainID = "enginetest"
    let keys: [SigningKey]
    let me: Int
    let directory: String
    private let ownsDirectory: Bool
    let store: ChainStore
    let mempool = Mempool()
    let application: LedgerApplication
    var engine: ConsensusEngine
    let clock = Clock()
    var clockMs: UInt64 { clock.ms }
    let config: ConsensusConfig

    /// `powers` gives each validator's power; the engine runs as validator `me`, by default
    /// one that proposes in none of the rounds `notProposing`.
    init(powers: [UInt64] = [10, 10, 10, 10], me: Int? = nil, notProposing: [UInt32] = [0], recovered: [WALRecord] = [],
         directory: String? = nil) throws {
        keys = powers.indices.map { SigningKey(seed: Digest.blake2b(Array("engine test validator \($0)".utf8)).bytes)! }
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString)").path
        ownsDirectory = directory == nil
        let genesis = Genesis(
            chainID: Self.chainID, genesisTime: 1_800_000_000,
            parameters: ChainParameters(minFee: 1_000, minStake: OPEN.atomicUnitsPerOPEN),
            validators: zip(keys, powers).map { .init(address: $0.publicKey, power: $1) },
            allocations: keys.map { .init(address: $0.publicKey, amount: 1_000 * OPEN.atomicUnitsPerOPEN) }, vesting: [])
        store = try ChainStore(path: self.directory + "/data")
        try store.initialize(genesis: genesis)
        var config = ConsensusConfig()
        config.createEmptyBlocks = true
        self.config = config
        let schedule = store.proposerSchedule!
        let validatorKeys = keys
        let chosen = me ?? validatorKeys.indices.first { index in
            notProposing.allSatisfy { schedule.proposer(round: $0) != validatorKeys[index].publicKey }
        }!
        self.me = chosen
        let clock = self.clock
        clock.ms = 1_800_000_000_000 + 5_000
        application = LedgerApplication(store: store, mempool: mempool, blockTransactionsMax: 100, clockMs: { clock.ms })
        engine = ConsensusEngine(key: keys[chosen], chainID: Self.chainID, application: application, config: config, recovered: recovered)
    }

    deinit { if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) } }

    /// A reference the application's clock reads.
    final class Clock: @unchecked Sendable { var ms: UInt64 = 0 }

    func handle(_ event: ConsensusEvent) -> [ConsensusEffect] { engine.handle(event) }

    /// The index of the validator proposing `round` of the next height.
    func proposer(round: UInt32) -> Int {
        let address = store.proposerSchedule!.proposer(round: round)
        return keys.firstIndex { $0.publicKey == address }!
    }

    /// A valid block for the next height proposed by validator `index`.
    func candidate(by index: Int, timeOffsetMs: UInt64 = 0) -> BlockCandidate {
        application.execution.propose([], timeMs: clockMs + timeOffsetMs, proposer: keys[index].publicKey).candidate
    }

    func proposal(round: UInt32, _ candidate: BlockCandidate, validRound: UInt32? = nil, by index: Int? = nil) -> ConsensusEvent {
        let signer = keys[index ?? proposer(round: round)]
        let proposal = Proposal(height: candidate.header.height, round: round, validRound: validRound, blockHash: candidate.hash)
        return .message(.proposal(SignedProposal(proposal, candidate: candidate, signedBy: signer, chainID: Self.chainID)))
    }

    func vote(_ kind: Vote.Kind, round: UInt32, _ hash: Digest?, by index: Int, height: UInt64 = 1) -> ConsensusEvent {
        .message(.vote(SignedVote(Vote(kind: kind, height: height, round: round, blockHash: hash), signedBy: keys[index], chainID: Self.chainID)))
    }

    /// Delivers `kind` votes for `hash` from each of `validators`, collecting the effects.
    func votes(_ kind: Vote.Kind, round: UInt32, _ hash: Digest?, from validators: [Int]) -> [ConsensusEffect] {
        validators.flatMap { handle(vote(kind, round: round, hash, by: $0)) }
    }

    var others: [Int] { keys.indices.filter { $0 != me } }
}

extension Array where Element == ConsensusEffect {
    /// Votes this node sent.
    var sentVotes: [Vote] {
        compactMap { if case let .broadcast(.vote(vote)) = $0 { vote.vote } else { nil } }
    }

    var sentProposals: [SignedProposal] {
        compactMap { if case let .broadcast(.proposal(proposal)) = $0 { proposal } else { nil } }
    }

    var scheduled: [Timeout] {
        compactMap { if case let .schedule(timeout, _) = $0 { timeout } else { nil } }
    }

    var committed: [Block] {
        compactMap { if case let .commit(block) = $0 { block } else { nil } }
    }

    var persisted: [WALRecord] {
        compactMap { if case let .persist(record) = $0 { record } else { nil } }
    }

    var evidence: [DuplicateVoteEvidence] {
        compactMap { if case let .evidence(evidence) = $0 { evidence } else { nil } }
    }
}
