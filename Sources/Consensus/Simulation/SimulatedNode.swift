import Crypto
import Foundation
import Gossip
import Ledger

/// One validator process of a simulation: the real consensus engine over a real ledger — a
/// RocksDB store and a consensus WAL in its own directory — that can crash (losing all memory)
/// and restart from its files.
final class SimulatedNode {
    let slot: Int
    let validator: Int
    let key: SigningKey
    /// This slot's identity among peers (twins share a validator key, not a node key).
    let nodeID: NodeID
    let behavior: SimulationConfig.Behavior?
    let directory: String
    /// Offset of this node's clock from simulated time.
    var clockOffsetMs: Int64 = 0
    /// Bumped at each crash: timeouts and replies addressed to an earlier life are ignored.
    private(set) var incarnation: UInt64 = 0
    /// Set to crash the node after this many effects of the next event it handles.
    var crashAfterEffects: Int?

    private(set) var engine: ConsensusEngine?
    private(set) var store: ChainStore?
    private(set) var mempool: Mempool?
    private(set) var application: LedgerApplication?
    private(set) var wal: ConsensusWAL?
    /// Committed blocks fetched from a peer, applied one height at a time.
    var syncQueue: [Block] = []
    /// The gossip router; its memory is lost in a crash.
    var router = Router()

    init(slot: Int, validator: Int, key: SigningKey, nodeID: NodeID, behavior: SimulationConfig.Behavior?, directory: String) {
        self.slot = slot
        self.validator = validator
        self.key = key
        self.nodeID = nodeID
        self.behavior = behavior
        self.directory = directory
    }

    var isRunning: Bool { engine != nil }
    var isHonest: Bool { behavior == nil }
    var height: UInt64 { store?.status?.height ?? 0 }

    /// Opens the store (writing the genesis on first boot) and the WAL, and builds an engine
    /// that resumes from what the WAL says this node signed.
    func boot(genesis: Genesis, config: ConsensusConfig, clockMs: @escaping () -> UInt64) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try ChainStore(path: directory + "/data", cacheEntries: 4_096, writeBufferBytes: 1 << 20)
        try store.initialize(genesis: genesis)
        let wal = try ConsensusWAL(path: directory + "/consensus.wal")
        let mempool = Mempool()
        let offset = clockOffsetMs
        let application = LedgerApplication(
            store: store, mempool: mempool, blockTransactionsMax: 100,
            clockMs: { UInt64(max(0, Int64(clockMs()) + offset)) })
        self.store = store
        self.wal = wal
        self.mempool = mempool
        self.application = application
        self.engine = ConsensusEngine(key: key, chainID: genesis.chainID, application: application, config: config,
                                      recovered: wal.records)
        syncQueue = []
        router = Router()
    }

    /// Loses everything in memory; files stay as the last completed write left them.
    func crash() {
        engine = nil
        application = nil
        mempool = nil
        wal = nil
        store = nil
        syncQueue = []
        router = Router()
        crashAfterEffects = nil
        incarnation += 1
    }

    func handle(_ event: ConsensusEvent) -> [ConsensusEffect] {
        guard engine != nil else { return [] }
        return engine!.handle(event)
    }

    var engineHeight: UInt64 { engine?.height ?? 0 }
    var engineStep: ConsensusEngine.Step? { engine?.step }
}
