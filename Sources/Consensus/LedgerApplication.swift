import Crypto
import Ledger

/// The chain as the consensus engine sees it: proposals come from the mempool and are
/// executed on the committed state of a `ChainStore`; decided blocks are committed to it.
///
/// Executions are kept per block hash during a height, so a block validated as a proposal is
/// not executed again when it commits. Used from one thread (the driver's) at a time.
public final class LedgerApplication: ConsensusApplication {
    public let store: ChainStore
    public let mempool: Mempool
    public let execution: BlockExecution
    public let blockTransactionsMax: Int
    private let clockMs: () -> UInt64
    private let onDropped: ([(hash: Digest, reason: TransactionRejection)]) -> Void
    private var executions: [Digest: ExecutedBlock] = [:]

    /// `clockMs` gives the proposer's time in unix milliseconds; `onDropped` hears of mempool
    /// transactions that failed when proposed (they leave the mempool).
    public init(store: ChainStore, mempool: Mempool, blockTransactionsMax: Int, clockMs: @escaping () -> UInt64,
                onDropped: @escaping ([(hash: Digest, reason: TransactionRejection)]) -> Void = { _ in }) {
        self.store = store
        self.mempool = mempool
        self.execution = BlockExecution(store: store)
        self.blockTransactionsMax = blockTransactionsMax
        self.clockMs = clockMs
        self.onDropped = onDropped
    }

    public func nextHeight() -> (height: UInt64, validators: ValidatorSet, schedule: ProposerSchedule) {
        let height = store.status!.height + 1
        do {
            return (height, try store.validatorSet(forHeight: height), store.proposerSchedule!)
        } catch {
            fatalError("store has no validator set for height \(height): \(error)")
        }
    }

    public var hasPendingTransactions: Bool { mempool.hasReady { store.account($0).nonce } }

    public func propose(proposer: Address) -> BlockCandidate {
        let transactions = mempool.reap(countMax: blockTransactionsMax, bytesMax: Block.transactionBytesMax) { store.account($0).nonce }
        let executed = execution.propose(transactions, timeMs: clockMs(), proposer: proposer)
        if !executed.rejected.isEmpty {
            onDropped(executed.rejected)
            mempool.remove(executed.rejected.map(\.hash)) { store.account($0).nonce }
        }
        executions[executed.header.hash] = executed
        return executed.candidate
    }

    /// How far ahead of this node's clock a newly proposed block's time may be.
    public static let clockDriftMaxMs: UInt64 = 30_000

    public func validatorSet(forHeight height: UInt64) -> ValidatorSet? { try? store.validatorSet(forHeight: height) }

    public func isTimely(_ candidate: BlockCandidate) -> Bool {
        candidate.header.timeMs <= clockMs() + Self.clockDriftMaxMs
    }

    public func isValid(_ candidate: BlockCandidate) -> Bool {
        if executions[candidate.hash] != nil { return true }
        guard let executed = try? execution.verify(candidate, signatureChecked: { mempool.contains($0.hash) }) else { return false }
        executions[candidate.hash] = executed
        return true
    }

    public func isValidCommitted(_ block: Block) -> Bool {
        do {
            executions[block.hash] = try execution.verify(block, signatureChecked: { mempool.contains($0.hash) })
            return true
        } catch {
            lastCommittedRefusal = error
            return false
        }
    }

    /// Why `isValidCommitted` last answered false: a block's fault, or (`.store`) this node's.
    public private(set) var lastCommittedRefusal: BlockError?

    /// Commits a decided block (reusing its execution when this node validated it) and
    /// removes its transactions from the mempool.
    public func commit(_ block: Block) throws(BlockError) {
        let executed: ExecutedBlock
        if let known = executions[block.hash] {
            executed = known
        } else {
            executed = try execution.verify(block, signatureChecked: { mempool.contains($0.hash) })
        }
        do { try store.commit(block, stateWrites: executed.stateWrites, tree: executed.tree) } catch { throw .store(error) }
        executions = [:]
        mempool.removeCommitted(block.transactions) { store.account($0).nonce }
    }
}
