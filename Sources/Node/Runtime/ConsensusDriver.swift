import Consensus
import Dispatch
import Ledger

/// Runs the consensus engine for a node: one serial queue feeds it events (messages,
/// timeouts, new transactions) and carries out its effects in order — the consensus WAL
/// synced before anything signed leaves, timers on the queue, decided blocks committed to the
/// store. A failure to persist or commit stops the engine for good and is reported once.
final class ConsensusDriver: @unchecked Sendable {
    // Everything below is touched only on `queue`.
    private let queue = DispatchQueue(label: "tributary.consensus")
    private var engine: ConsensusEngine
    private let wal: ConsensusWAL
    private let application: LedgerApplication
    private let onCommit: @Sendable (_ block: Block, _ busyMicroseconds: UInt64) -> Void
    private let onEvidence: @Sendable (DuplicateVoteEvidence) -> Void
    private let onFailure: @Sendable (any Error) -> Void
    private var stopped = false
    /// Time spent handling events since the last commit was reported.
    private var busyMicroseconds: UInt64 = 0

    init(engine: ConsensusEngine, wal: ConsensusWAL, application: LedgerApplication,
         onCommit: @escaping @Sendable (_ block: Block, _ busyMicroseconds: UInt64) -> Void,
         onEvidence: @escaping @Sendable (DuplicateVoteEvidence) -> Void,
         onFailure: @escaping @Sendable (any Error) -> Void) {
        self.engine = engine
        self.wal = wal
        self.application = application
        self.onCommit = onCommit
        self.onEvidence = onEvidence
        self.onFailure = onFailure
    }

    func start() { deliver(.start) }

    func deliver(_ event: ConsensusEvent) {
        queue.async { [weak self] in self?.process(event) }
    }

    /// Stops processing; events already queued are dropped.
    func stop() {
        queue.sync { stopped = true }
    }

    private func process(_ event: ConsensusEvent) {
        guard !stopped else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { busyMicroseconds += (DispatchTime.now().uptimeNanoseconds - started) / 1_000 }
        for effect in engine.handle(event) {
            do {
                try perform(effect)
            } catch {
                stopped = true
                onFailure(error)
                return
            }
        }
    }

    private func perform(_ effect: ConsensusEffect) throws {
        switch effect {
        case let .persist(.height(height)):
            try wal.startHeight(height)
        case let .persist(record):
            try wal.append(record)
        case .broadcast, .requestBlocks:
            break  // no peers: this node is the whole validator set
        case let .schedule(timeout, delayMs):
            // Weak: pending timers must not keep a stopped driver (and its store) alive.
            queue.asyncAfter(deadline: .now() + .milliseconds(Int(delayMs))) { [weak self] in self?.process(.timeout(timeout)) }
        case let .commit(block):
            try application.commit(block)
            onCommit(block, busyMicroseconds + 0)
            busyMicroseconds = 0
        case let .evidence(evidence):
            onEvidence(evidence)
        }
    }
}
