import Consensus
import Dispatch
import Gossip
import Ledger

/// Runs the consensus engine for a node: one serial queue feeds it events (messages,
/// timeouts, new transactions, blocks fetched from peers) and carries out its effects in
/// order — the consensus WAL synced before anything signed leaves, signed messages handed to
/// gossip, timers on the queue, decided blocks committed to the store. A failure to persist or
/// commit stops the engine for good and is reported once.
final class ConsensusDriver: @unchecked Sendable {
    /// What the driver asks of the rest of the node.
    struct Callbacks: Sendable {
        var onCommit: @Sendable (_ block: Block, _ busyMicroseconds: UInt64) -> Void
        var onEvidence: @Sendable (DuplicateVoteEvidence) -> Void
        var onFailure: @Sendable (any Error) -> Void
        /// A message this validator signed (already in the WAL), encoded for gossip.
        var onBroadcast: @Sendable (GossipItem) -> Void = { _ in }
        /// Committed blocks from this height on are missing.
        var onRequestBlocks: @Sendable (_ fromHeight: UInt64) -> Void = { _ in }
        /// A block fetched from a peer for the engine's height failed its checks (certificate
        /// or execution, `reason`): its sender misbehaved, and the height must be fetched again.
        var onSyncedBlockRefused: @Sendable (_ height: UInt64, _ reason: String) -> Void = { _, _ in }
    }

    /// Blocks fetched from peers are kept this many heights ahead of the engine at most.
    static let syncedBlocksAheadMax: UInt64 = 256

    // Everything below is touched only on `queue`.
    private let queue = DispatchQueue(label: "tributary.consensus")
    private var engine: ConsensusEngine
    private let wal: ConsensusWAL
    private let application: LedgerApplication
    private let callbacks: Callbacks
    private var stopped = false
    /// Time spent handling events since the last commit was reported.
    private var busyMicroseconds: UInt64 = 0
    /// Committed blocks from peers, by height, waiting for the engine to reach them.
    private var syncedBlocks: [UInt64: Block] = [:]
    /// Gossip encodings of this height's messages, so each is encoded and hashed once.
    private var encoded: [ConsensusMessage: GossipItem] = [:]
    private var encodedHeight: UInt64 = 0

    init(engine: ConsensusEngine, wal: ConsensusWAL, application: LedgerApplication, callbacks: Callbacks) {
        self.engine = engine
        self.wal = wal
        self.application = application
        self.callbacks = callbacks
    }

    func start() { deliver(.start) }

    func deliver(_ event: ConsensusEvent) {
        queue.async { [weak self] in self?.process(event) }
    }

    /// Hands over committed blocks fetched from a peer; each is checked (certificate and
    /// execution) by the engine when it reaches that height.
    func deliverSynced(_ blocks: [Block]) {
        queue.async { [weak self] in
            guard let self, !stopped else { return }
            let height = engine.height
            for block in blocks where block.header.height >= height && block.header.height < height + Self.syncedBlocksAheadMax {
                syncedBlocks[block.header.height] = block
            }
            feedSyncedBlock()
        }
    }

    /// The messages of the current height peers should hold (`messagesToGossip`), encoded.
    func liveMessages(_ reply: @escaping @Sendable ([GossipItem]) -> Void) {
        queue.async { [weak self] in
            guard let self, !stopped else { return }
            reply(engine.messagesToGossip().map(encode))
        }
    }

    /// Stops processing; events already queued are dropped.
    func stop() {
        queue.sync { stopped = true }
    }

    private func process(_ event: ConsensusEvent) {
        guard !stopped else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { busyMicroseconds += (DispatchTime.now().uptimeNanoseconds - started) / 1_000 }
        run(event)
        feedSyncedBlock()
    }

    private func run(_ event: ConsensusEvent) {
        for effect in engine.handle(event) {
            do {
                try perform(effect)
            } catch {
                stopped = true
                callbacks.onFailure(error)
                return
            }
        }
    }

    /// Gives the engine the fetched block of its height, if it has one and is still deciding.
    private func feedSyncedBlock() {
        while !stopped, let block = syncedBlocks[engine.height], engine.step != .decided {
            let height = engine.height
            syncedBlocks[height] = nil
            run(.blockReceived(block))
            // The engine takes a block of its height whenever it is valid, so one it did not take
            // is not — unless this node's store failed, which is no fault of the sender's.
            guard !stopped, engine.height == height, engine.step != .decided else { continue }
            switch application.lastCommittedRefusal {
            case .store?, nil: continue
            case let refusal?: callbacks.onSyncedBlockRefused(height, refusal.description)
            }
        }
        for height in syncedBlocks.keys where height < engine.height { syncedBlocks[height] = nil }
    }

    private func encode(_ message: ConsensusMessage) -> GossipItem {
        if encodedHeight != engine.height {
            encoded = [:]
            encodedHeight = engine.height
        }
        if let item = encoded[message] { return item }
        let item = ConsensusGossip.item(message)
        encoded[message] = item
        return item
    }

    private func perform(_ effect: ConsensusEffect) throws {
        switch effect {
        case let .persist(.height(height)):
            try wal.startHeight(height)
        case let .persist(record):
            try wal.append(record)
        case let .broadcast(message):
            callbacks.onBroadcast(encode(message))
        case let .requestBlocks(height):
            callbacks.onRequestBlocks(height)
        case let .schedule(timeout, delayMs):
            // Weak: pending timers must not keep a stopped driver (and its store) alive.
            queue.asyncAfter(deadline: .now() + .milliseconds(Int(delayMs))) { [weak self] in self?.process(.timeout(timeout)) }
        case let .commit(block):
            try application.commit(block)
            callbacks.onCommit(block, busyMicroseconds + 0)
            busyMicroseconds = 0
        case let .evidence(evidence):
            callbacks.onEvidence(evidence)
        }
    }
}
