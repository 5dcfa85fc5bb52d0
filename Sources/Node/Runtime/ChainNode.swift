import Consensus
import Crypto
import Foundation
import Gossip
import Ledger
import Payments
import Synchronization

/// A running chain node: the store, the mempool, the consensus engine and, unless it runs
/// alone, gossip with its peers — shared by the HTTP API threads, the consensus queue and the
/// gossip queue. A node with peers first catches up by block sync (`BlockSyncer`); gossip
/// says when it is caught up, and only then does the consensus engine run — a new engine each
/// time, from the WAL, since the chain moved on while it was stopped.
final class ChainNode: GossipHost, Sendable {
    let store: ChainStore
    let mempool: Mempool
    let validatorKey: SigningKey
    let log: Logger
    let metrics = NodeMetrics()
    /// x402 settlements this node submitted and the payer funds they hold.
    let payments = PendingPayments()
    /// Peer-to-peer networking; nil for a node that runs alone (benchmarks).
    let gossip: GossipService?
    let chainID: String
    private let executor: Executor
    private let consensusConfig: ConsensusConfig
    private let wal: ConsensusWAL
    private let blockTransactionsMax: Int
    private let syncer: BlockSyncer
    private let dropped = Mutex(RecentRejections(capacity: 10_000))
    /// Evidence of double-signing at heights not yet committed: a block may carry evidence of
    /// earlier heights only, so it is submitted once its height is committed.
    private let pendingEvidence = Mutex(EvidenceQueue())
    /// Held while this node signs and submits a transaction of its own key, so two never take one nonce.
    private let ownSubmission = Mutex(())
    private let failure = Mutex<(any Error)?>(nil)
    private let driver = Mutex<ConsensusDriver?>(nil)
    /// Messages that arrived while no engine ran; taken while `driver` is locked, so none slips between.
    private let heldMessages = Mutex(HeldConsensusMessages())
    private let stop = StopSignal()

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

    /// How a node reaches its peers.
    struct NetworkSettings {
        let nodeKey: SigningKey
        let transport: TransportConfig
        let persistentPeers: [PeerAddress]
        /// How long a peer whose score fell below the threshold stays banned.
        let banMs: UInt64
        /// Where bans are kept across restarts.
        let banFile: PeerBanFile?
        /// Peer exchange, unless it is off.
        let discovery: PeerDiscovery?
    }

    /// A node over `store`; `walPath` is its consensus WAL. Consensus (and gossip, when
    /// `network` is given) starts with `run()`.
    init(store: ChainStore, validatorKey: SigningKey, mempoolLimits: Mempool.Limits, blockTransactionsMax: Int,
         consensus config: ConsensusConfig, walPath: String, network: NetworkSettings?, log: Logger) throws {
        self.store = store
        self.mempool = Mempool(limits: mempoolLimits)
        self.validatorKey = validatorKey
        self.log = log
        chainID = store.status!.chainID
        self.executor = Executor(chainID: chainID)
        gossip = network.map {
            GossipService(nodeKey: $0.nodeKey, config: $0.transport, persistentPeers: $0.persistentPeers, banMs: $0.banMs,
                          banFile: $0.banFile, discovery: $0.discovery, log: log)
        }
        wal = try ConsensusWAL(path: walPath)
        if wal.repairedTail > 0 {
            log.warning("consensus WAL had a torn final record; cut it off", ["bytes": wal.repairedTail, "path": walPath])
        }
        consensusConfig = config
        self.blockTransactionsMax = blockTransactionsMax
        // Gossip hears of synced blocks per batch (`GossipService.syncBatchDone`), not per block.
        syncer = BlockSyncer(store: store) { [mempool, metrics, payments] block in
            mempool.removeCommitted(block.transactions) { store.account($0).nonce }
            payments.committed(block.transactions)
            metrics.add(metrics.blocksCommitted)
            metrics.add(metrics.transactionsCommitted, UInt64(block.transactions.count))
        }
    }

    var status: ChainStatus { store.status! }

    /// Whether the node is catching up by block sync, and the highest height its peers have.
    var syncState: SyncState { gossip?.syncState.withLock { $0 } ?? SyncState() }

    /// Starts gossip and consensus and blocks until `shutdown()` or a failure; rethrows the
    /// failure. On return gossip, block sync and the consensus engine are stopped and released,
    /// so closing the store is safe.
    func run() throws {
        if let gossip {
            try gossip.start(host: self)  // starts the engine now, or once block sync is done
        } else {
            startConsensus()
        }
        while !stop.wait(milliseconds: 1_000) {}
        gossip?.stop()
        syncer.drain()
        stopConsensus()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Starts a consensus engine at the height after the committed one, with what the WAL
    /// says this validator signed there.
    private func startConsensus() {
        guard !stop.isStopped else { return }
        let application = LedgerApplication(
            store: store, mempool: mempool, blockTransactionsMax: blockTransactionsMax, clockMs: Self.nowMs
        ) { [weak self] rejected in self?.recordDropped(rejected) }
        let engine = ConsensusEngine(key: validatorKey, chainID: chainID, application: application,
                                     config: consensusConfig, recovered: wal.records)
        let gossip = self.gossip
        let driver = ConsensusDriver(engine: engine, wal: wal, application: application, callbacks: .init(
            onCommit: { [weak self] block, busy in self?.committed(block, busyMicroseconds: busy) },
            onEvidence: { [weak self] evidence in self?.report(evidence) },
            onFailure: { [weak self] error in self?.fail(error) },
            onBroadcast: { item in gossip?.publish(item) },
            onRequestBlocks: { height in gossip?.requestBlocks(from: height) },
            onSyncedBlockRefused: { height, reason in gossip?.syncedBlockRefused(height, reason: reason) }))
        // `.start` is queued before anything else can reach the engine, so no message comes
        // before the engine has a height; then the messages held meanwhile follow it.
        driver.start()
        let held = self.driver.withLock { current in
            precondition(current == nil, "a consensus engine already runs")
            current = driver
            return heldMessages.withLock { $0.takeAll() }
        }
        for message in held { driver.deliver(.message(message)) }
    }

    /// Stops the consensus engine, if one runs, and waits for it.
    private func stopConsensus() {
        self.driver.withLock { current in
            defer { current = nil }
            return current
        }?.stop()
    }

    func shutdown() { stop.fire() }

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
        gossip?.publish(GossipItem(id: transaction.hash, channel: .transactions, bytes: transaction.canonicalBytes))
        signalIfReady([transaction])
    }

    /// Wakes the engine (a height waiting for transactions starts its round) when one of the
    /// admitted transactions' senders can run a transaction in the next block. Transactions
    /// behind a missing nonce do not: they cannot go in a block, and any key could otherwise
    /// keep the chain making empty blocks.
    private func signalIfReady(_ admitted: [SignedTransaction]) {
        let ready = admitted.contains { mempool.isReady($0.transaction.sender, committedNonce: store.account($0.transaction.sender).nonce) }
        if ready { driver.withLock { $0 }?.deliver(.transactionsAvailable) }
    }

    private func admit(_ transaction: SignedTransaction) throws(SubmitError) {
        do { try executor.checkSignature(transaction) } catch { throw .rejected(error) }
        let account = store.account(transaction.transaction.sender)
        // The fee rule holds for every nonce: a transaction queued behind a gap pays it too once
        // it runs, and one that never could (fee below the minimum) would sit here for free.
        let minFee = store.parameters.minFee
        guard transaction.transaction.fee >= minFee else { throw .rejected(.feeTooLow(minimum: minFee, got: transaction.transaction.fee)) }
        let timeMs = max(Self.nowMs(), status.lastBlockTimeMs + 1)
        if transaction.transaction.nonce == account.nonce {
            let context = BlockContext(following: store, timeMs: timeMs, proposer: validatorKey.publicKey)
            var trial = StateOverlay(base: store)
            do { try executor.apply(transaction, to: &trial, context: context) } catch { throw .rejected(error) }
        }
        // Stake whose unbonding has ended is the sender's to spend: the next block hands it back
        // before the transaction runs (else an account left with only that could never send the
        // transaction that reclaims it). What vesting still locks is not.
        var payer = account
        if let unbonding: Unbonding = store.record(.unbonding(transaction.transaction.sender)) {
            payer.balance += unbonding.released(atHeight: status.height + 1)
        }
        payer.balance -= store.lockedPart(of: payer.balance, of: transaction.transaction.sender, at: timeMs / 1000)
        do {
            try mempool.add(transaction, account: payer) { store.account($0).nonce }
        } catch {
            throw .mempool(error)
        }
    }

    // MARK: Gossip

    var committedHeight: UInt64 { status.height }

    func isRelevant(_ message: ConsensusMessage) -> Bool { ConsensusGossip.isRelevant(message, to: store) }

    func consensusMessageArrived(_ message: ConsensusMessage, bytes: Int) {
        driver.withLock { driver in
            guard let driver else { return heldMessages.withLock { $0.add(message, bytes: bytes) } }
            driver.deliver(.message(message))
        }
    }

    func transactionsArrived(_ transactions: [SignedTransaction]) -> [PeerTransactionOutcome] {
        let outcomes = transactions.map(admitFromPeer)
        let admitted = zip(transactions, outcomes).compactMap { transaction, outcome in
            if case .admitted = outcome { transaction } else { nil }
        }
        if !admitted.isEmpty {
            metrics.add(metrics.transactionsReceived, UInt64(admitted.count))
            signalIfReady(admitted)
        }
        return outcomes
    }

    private func admitFromPeer(_ transaction: SignedTransaction) -> PeerTransactionOutcome {
        do throws(SubmitError) {
            try admit(transaction)
            return .admitted
        } catch {
            switch error {
            case .rejected(.invalidSignature): return .badSignature
            case .mempool(.alreadyKnown): return .known
            default: return .refused
            }
        }
    }

    func committedBlocks(from height: UInt64, countMax: Int, bytesMax: Int) -> [Block] {
        let last = status.height
        guard height >= 1, height <= last, countMax >= 1 else { return [] }
        var blocks: [Block] = []
        var bytes = 0
        for blockHeight in height...min(last, height + UInt64(countMax) - 1) {
            guard let block = try? store.block(at: blockHeight) else { break }
            bytes += block.canonicalBytes.count
            if !blocks.isEmpty && bytes > bytesMax { break }
            blocks.append(block)
        }
        return blocks
    }

    func syncedBlocksArrived(_ blocks: [Block]) {
        driver.withLock { $0 }?.deliverSynced(blocks)
    }

    func applySyncedBlocks(_ blocks: [(height: UInt64, block: Block, from: NodeID)], done: @escaping @Sendable (BlockSyncer.Outcome) -> Void) {
        syncer.apply(blocks, done: done)
    }

    func blockSyncStarted() { stopConsensus() }

    func blockSyncFinished() { startConsensus() }

    func liveConsensusMessages(_ reply: @escaping @Sendable ([GossipItem]) -> Void) {
        driver.withLock { $0 }?.liveMessages(reply)
    }

    func transactionStatus(_ hash: Digest) throws -> TransactionStatus {
        if let committed = try committedTransaction(hash) { return committed }
        if let pending = mempool.transaction(hash) { return .pending(pending) }
        if let reason = dropped.withLock({ $0.reason(for: hash) }) { return .dropped(reason) }
        // It may have committed while we looked elsewhere.
        return try committedTransaction(hash) ?? .unknown
    }

    private func committedTransaction(_ hash: Digest) throws -> TransactionStatus? {
        guard let location = try store.transactionLocation(hash) else { return nil }
        guard let block = try store.block(at: location.height), location.index < block.transactions.count else {
            throw StoreError("transaction index points at a missing block \(location.height)")
        }
        return .committed(height: location.height, index: location.index, block.transactions[location.index])
    }

    private func recordDropped(_ rejected: [(hash: Digest, reason: TransactionRejection)]) {
        dropped.withLock { recent in for (hash, reason) in rejected { recent.record(hash, reason) } }
        payments.dropped(rejected.map(\.hash))
        metrics.add(metrics.transactionsDropped, UInt64(rejected.count))
        log.debug("dropped transactions", ["count": rejected.count, "first_reason": rejected[0].reason.code])
    }

    private func committed(_ block: Block, busyMicroseconds: UInt64) {
        gossip?.heightCommitted(block.header.height)
        payments.committed(block.transactions)
        submitDueEvidence()
        metrics.add(metrics.consensusBusyMicroseconds, busyMicroseconds)
        metrics.add(metrics.blocksCommitted)
        metrics.add(metrics.transactionsCommitted, UInt64(block.transactions.count))
        log.info("committed block", [
            "height": block.header.height, "txs": block.transactions.count, "round": block.certificate.round,
            "app_hash": block.header.appHash.hex.prefix(16),
        ])
    }

    /// Submits evidence of a validator's double-signing, signed by this node's key, once its
    /// height is committed.
    /// One piece of evidence per validator and height is enough (the chain punishes once, and
    /// refuses the rest as `duplicate_evidence`; a refused transaction of this node's key would
    /// leave a gap in its nonces that drops its later transactions, settlements included).
    private func report(_ evidence: DuplicateVoteEvidence) {
        guard pendingEvidence.withLock({ $0.add(evidence) }) else { return }
        log.warning("validator signed conflicting votes", ["validator": evidence.validator.hex, "height": evidence.height])
        submitDueEvidence()
    }

    private func submitDueEvidence() {
        let height = status.height
        let due = pendingEvidence.withLock { $0.takeDue(committedHeight: height) }
        // Evidence another node's report already brought to the chain would be refused.
        for evidence in due where store.value(for: .slash(validator: evidence.validator, height: evidence.height)) == nil { submit(evidence) }
    }

    private func submit(_ evidence: DuplicateVoteEvidence) {
        do { _ = try submitOwn(.evidence(evidence)) } catch {
            log.warning("could not submit evidence", ["error": "\(error)"])
        }
    }

    /// Signs `body` with this node's key at its next nonce, tells `before` (under the same
    /// lock, so a commit cannot outrun it) and submits it to the mempool. Evidence, payment
    /// settlements and royalty releases all go through here, one at a time.
    func submitOwn(_ body: TransactionBody, before: (SignedTransaction) -> Void = { _ in }) throws(SubmitError) -> SignedTransaction {
        try ownSubmission.withLock { (_: inout Void) throws(SubmitError) -> SignedTransaction in
            let key = validatorKey
            let nonce = mempool.nextNonce(for: key.publicKey) { store.account(key.publicKey).nonce }
            let transaction = Transaction(sender: key.publicKey, nonce: nonce, fee: store.parameters.minFee, body: body).signed(by: key, chainID: chainID)
            before(transaction)
            try submit(transaction)
            return transaction
        }
    }

    private func fail(_ error: any Error) {
        log.error("consensus stopped", ["error": "\(error)"])
        failure.withLock { $0 = error }
        stop.fire()
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
