import Crypto
import Foundation
import Ledger
import Synchronization

/// A running chain node: the store, the mempool and the block producer, shared by the HTTP
/// API threads and the producer thread.
///
/// Until BFT consensus lands, blocks are produced by a single validator whose key must hold
/// more than 2/3 of the voting power; each block carries that validator's precommit as its
/// commit certificate.
final class ChainNode: Sendable {
    let store: ChainStore
    let execution: BlockExecution
    let mempool: Mempool
    let validatorKey: SigningKey
    let log: Logger
    let metrics = NodeMetrics()
    let blockTransactionsMax: Int
    private let dropped = Mutex(RecentRejections(capacity: 10_000))

    /// Why a submitted transaction was refused.
    enum SubmitError: Error {
        case rejected(TransactionRejection)
        case mempool(MempoolRejection)
    }

    /// Where a transaction stands.
    enum TransactionStatus {
        case committed(height: UInt64, index: Int, SignedTransaction)
        case pending(SignedTransaction)
        case dropped(TransactionRejection)
        case unknown
    }

    init(store: ChainStore, validatorKey: SigningKey, mempoolLimits: Mempool.Limits, blockTransactionsMax: Int, log: Logger) throws {
        self.store = store
        self.execution = BlockExecution(store: store)
        self.mempool = Mempool(limits: mempoolLimits)
        self.validatorKey = validatorKey
        self.blockTransactionsMax = blockTransactionsMax
        self.log = log
        try requireQuorum()
    }

    /// Fails unless this node's key alone holds more than 2/3 of the power that certifies the
    /// next block — the condition for producing blocks without other validators.
    private func requireQuorum() throws {
        let height = status.height + 1
        let validators = try store.validatorSet(forHeight: height)
        let power = validators.power(of: validatorKey.publicKey)
        guard validators.isQuorum(power) else {
            throw CommandError("at height \(height) validator key \(validatorKey.publicKey) holds power \(power) of \(validators.totalPower); "
                + "a single-validator node needs more than 2/3 of the voting power")
        }
    }

    var status: ChainStatus { store.status! }

    /// Checks the signature (once: the mempool trusts it afterwards), runs the transaction
    /// against the committed state when it is the sender's next one, and queues it.
    func submit(_ transaction: SignedTransaction) throws(SubmitError) {
        do {
            try admit(transaction)
        } catch {
            metrics.add(metrics.transactionsRefused)
            throw error
        }
        metrics.add(metrics.transactionsReceived)
    }

    private func admit(_ transaction: SignedTransaction) throws(SubmitError) {
        do { try execution.executor.checkSignature(transaction) } catch { throw .rejected(error) }
        let committed = store.account(transaction.transaction.sender).nonce
        if transaction.transaction.nonce == committed {
            let context = BlockContext(
                following: store, timeMs: max(Self.nowMs(), status.lastBlockTimeMs + 1), proposer: validatorKey.publicKey)
            var trial = StateOverlay(base: store)
            do { try execution.executor.apply(transaction, to: &trial, context: context) } catch { throw .rejected(error) }
        }
        do { try mempool.add(transaction, committedNonce: committed) } catch { throw .mempool(error) }
    }

    func transactionStatus(_ hash: Digest) throws -> TransactionStatus {
        if let location = try store.transactionLocation(hash) {
            guard let block = try store.block(at: location.height), location.index < block.transactions.count else {
                throw StoreError("transaction index points at a missing block \(location.height)")
            }
            return .committed(height: location.height, index: location.index, block.transactions[location.index])
        }
        if let pending = mempool.transaction(hash) { return .pending(pending) }
        if let reason = dropped.withLock({ $0.reason(for: hash) }) { return .dropped(reason) }
        return .unknown
    }

    /// Builds, certifies and commits one block from the mempool. Returns nil when nothing
    /// was ready to commit.
    @discardableResult
    func produceBlock() throws -> Block? {
        try requireQuorum()
        let started = DispatchTime.now().uptimeNanoseconds
        let candidates = mempool.reap(countMax: blockTransactionsMax, bytesMax: Block.maxBytes / 2) { store.account($0).nonce }
        guard !candidates.isEmpty else { return nil }
        let executed = execution.propose(candidates, timeMs: Self.nowMs(), proposer: validatorKey.publicKey)
        var block: Block?
        if !executed.transactions.isEmpty {
            let certificate = CommitCertificate.signing(executed.header, round: 0, keys: [validatorKey])
            let committed = Block(header: executed.header, transactions: executed.transactions, certificate: certificate)
            try store.commit(committed, stateWrites: executed.stateWrites, tree: executed.tree)
            block = committed
        }
        mempool.remove(executed.transactions.map(\.hash) + executed.rejected.map(\.hash)) { store.account($0).nonce }
        if !executed.rejected.isEmpty {
            dropped.withLock { recent in
                for (hash, reason) in executed.rejected { recent.record(hash, reason) }
            }
            metrics.add(metrics.transactionsDropped, UInt64(executed.rejected.count))
            log.debug("dropped transactions", ["count": executed.rejected.count, "first_reason": executed.rejected[0].reason.code])
        }
        let elapsedMicroseconds = (DispatchTime.now().uptimeNanoseconds - started) / 1_000
        metrics.add(metrics.blockCommitMicroseconds, elapsedMicroseconds)
        if let block {
            metrics.add(metrics.blocksCommitted)
            metrics.add(metrics.transactionsCommitted, UInt64(block.transactions.count))
            log.info("committed block", [
                "height": block.header.height, "txs": block.transactions.count,
                "app_hash": block.header.appHash.hex.prefix(16), "ms": Double(elapsedMicroseconds) / 1000,
            ])
        }
        return block
    }

    /// Produces a block every `intervalMs` until `stop` fires. A store failure stops the node
    /// (it cannot keep running with an unknown commit state), and so does losing the quorum.
    func runProducer(intervalMs: Int, stop: StopSignal) throws {
        while !stop.wait(milliseconds: intervalMs) {
            try produceBlock()
        }
    }

    static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

/// A bounded record of transactions dropped at proposal time, so clients can learn why.
struct RecentRejections {
    let capacity: Int
    private var reasons: [Digest: TransactionRejection] = [:]
    private var order: [Digest] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(_ hash: Digest, _ reason: TransactionRejection) {
        if order.count < capacity {
            order.append(hash)
        } else {
            reasons[order[next]] = nil
            order[next] = hash
            next = (next + 1) % capacity
        }
        reasons[hash] = reason
    }

    func reason(for hash: Digest) -> TransactionRejection? { reasons[hash] }
}

/// A one-shot stop request that sleeping loops wait on.
final class StopSignal: Sendable {
    private let stopped = Mutex(false)
    private let semaphore = DispatchSemaphore(value: 0)

    func fire() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { semaphore.signal() }
    }

    var isStopped: Bool { stopped.withLock { $0 } }

    /// Sleeps up to `milliseconds`; returns true once stopped.
    func wait(milliseconds: Int) -> Bool {
        if semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success {
            semaphore.signal()
            return true
        }
        return isStopped
    }
}
