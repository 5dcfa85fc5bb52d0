import Crypto

/// A block's transactions executed on the committed state, ready to certify and commit.
public struct ExecutedBlock: Sendable {
    public let header: BlockHeader
    public let transactions: [SignedTransaction]
    public var candidate: BlockCandidate { BlockCandidate(header: header, transactions: transactions) }
    public let stateWrites: [StateKey: [UInt8]?]
    public let tree: StateTree.Update
    /// Candidates left out while proposing, with the reason.
    public let rejected: [(hash: Digest, reason: TransactionRejection)]
}

/// Why a block cannot be committed.
public enum BlockError: Error, Sendable, CustomStringConvertible {
    case wrongChain(String)
    case wrongHeight(expected: UInt64, got: UInt64)
    case wrongPrevious
    case timeNotIncreasing(lastMs: UInt64, gotMs: UInt64)
    case wrongTransactionsRoot
    case tooLarge(transactionBytes: Int)
    case proposerNotAValidator(Address)
    case invalidTransaction(index: Int, TransactionRejection)
    case wrongAppHash(expected: Digest, got: Digest)
    case invalidCertificate(CertificateError)
    case store(StoreError)

    public var description: String {
        switch self {
        case let .wrongChain(chain): "block is for chain '\(chain)'"
        case let .wrongHeight(expected, got): "block height \(got), expected \(expected)"
        case .wrongPrevious: "block does not extend the last committed block"
        case let .timeNotIncreasing(lastMs, gotMs): "block time \(gotMs) ms is not after the last block's \(lastMs) ms"
        case .wrongTransactionsRoot: "transactions root does not match the transactions"
        case let .tooLarge(bytes): "transactions of \(bytes) bytes, over the \(Block.transactionBytesMax) a block may hold"
        case let .proposerNotAValidator(address): "proposer \(address) is not a validator at this height"
        case let .invalidTransaction(index, reason): "transaction \(index) is invalid: \(reason)"
        case let .wrongAppHash(expected, got): "app hash \(got.hex) but execution gives \(expected.hex)"
        case let .invalidCertificate(error): "commit certificate invalid: \(error)"
        case let .store(error): "store: \(error)"
        }
    }
}

/// Builds new blocks from candidate transactions and checks blocks made elsewhere, both by
/// executing them on the committed state of a `ChainStore`.
public struct BlockExecution: Sendable {
    public let store: ChainStore
    public let executor: Executor

    public init(store: ChainStore) {
        self.store = store
        self.executor = Executor(chainID: store.status!.chainID)
    }

    /// Executes `candidates` (signatures already checked) in order on the committed state,
    /// leaving out any that fail and stopping at `Block.transactionBytesMax`, and returns the
    /// resulting block contents and header.
    public func propose(_ candidates: [SignedTransaction], timeMs: UInt64, proposer: Address) -> ExecutedBlock {
        let status = store.status!
        let context = BlockContext(following: store, timeMs: max(timeMs, status.lastBlockTimeMs + 1), proposer: proposer)
        var state = StateOverlay(base: store)
        executor.beginBlock(&state, context: context)
        var included: [SignedTransaction] = []
        var rejected: [(hash: Digest, reason: TransactionRejection)] = []
        var includedBytes = 0
        for candidate in candidates {
            // Past the block's byte limit the rest wait for the next block (neither included nor rejected).
            let bytes = candidate.byteCount
            guard includedBytes + bytes <= Block.transactionBytesMax else { break }
            do {
                try executor.apply(candidate, to: &state, context: context)
                included.append(candidate)
                includedBytes += bytes
            } catch {
                rejected.append((candidate.hash, error))
            }
        }
        let tree = store.prepareStateUpdate(state.writes)
        let header = BlockHeader(
            chainID: status.chainID, height: context.height, timeMs: context.timeMs, previousHash: status.lastBlockHash,
            transactionsRoot: MerkleRoot.of(included.map(\.hash)), appHash: tree.rootHash, proposer: proposer)
        return ExecutedBlock(header: header, transactions: included, stateWrites: state.writes, tree: tree, rejected: rejected)
    }

    /// Checks every rule of a proposed block against the committed state — chain, height,
    /// link, time, transactions root, each signature and transaction, app hash — and returns
    /// its execution. Finality (the certificate) is checked by `verify`. Signatures for which
    /// `signatureChecked` answers true were checked before (the node's mempool holds only
    /// checked transactions, and a transaction's hash covers its signature), so each signature
    /// is verified once per node.
    public func verify(_ candidate: BlockCandidate,
                       signatureChecked: (SignedTransaction) -> Bool = { _ in false }) throws(BlockError) -> ExecutedBlock {
        let status = store.status!
        let header = candidate.header
        guard header.chainID == status.chainID else { throw .wrongChain(header.chainID) }
        guard header.height == status.height + 1 else { throw .wrongHeight(expected: status.height + 1, got: header.height) }
        guard header.previousHash == status.lastBlockHash else { throw .wrongPrevious }
        guard header.timeMs > status.lastBlockTimeMs else {
            throw .timeNotIncreasing(lastMs: status.lastBlockTimeMs, gotMs: header.timeMs)
        }
        guard header.transactionsRoot == MerkleRoot.of(candidate.transactions.map(\.hash)) else { throw .wrongTransactionsRoot }
        let transactionBytes = candidate.transactions.reduce(0) { $0 + $1.byteCount }
        guard transactionBytes <= Block.transactionBytesMax else { throw .tooLarge(transactionBytes: transactionBytes) }
        let validators: ValidatorSet
        do { validators = try store.validatorSet(forHeight: header.height) } catch { throw .store(error) }
        guard validators.power(of: header.proposer) > 0 else { throw .proposerNotAValidator(header.proposer) }
        let context = BlockContext(following: store, timeMs: header.timeMs, proposer: header.proposer)
        var state = StateOverlay(base: store)
        executor.beginBlock(&state, context: context)
        for (index, transaction) in candidate.transactions.enumerated() {
            do {
                if !signatureChecked(transaction) { try executor.checkSignature(transaction) }
                try executor.apply(transaction, to: &state, context: context)
            } catch {
                throw .invalidTransaction(index: index, error)
            }
        }
        let tree = store.prepareStateUpdate(state.writes)
        guard tree.rootHash == header.appHash else { throw .wrongAppHash(expected: tree.rootHash, got: header.appHash) }
        return ExecutedBlock(header: header, transactions: candidate.transactions, stateWrites: state.writes, tree: tree, rejected: [])
    }

    /// Checks a committed block: its certificate against the validators of its height, then
    /// everything `verify(_: BlockCandidate)` checks. `certificateSignaturesChecked`: the caller
    /// verified the certificate's signatures (`CommitCertificate.hasValidSignatures`).
    public func verify(_ block: Block, certificateSignaturesChecked: Bool = false,
                       signatureChecked: (SignedTransaction) -> Bool = { _ in false }) throws(BlockError) -> ExecutedBlock {
        let validators: ValidatorSet
        do { validators = try store.validatorSet(forHeight: block.header.height) } catch { throw .store(error) }
        do {
            try validators.verify(block.certificate, for: block.header, signaturesChecked: certificateSignaturesChecked)
        } catch { throw .invalidCertificate(error) }
        return try verify(block.candidate, signatureChecked: signatureChecked)
    }

    /// Verifies and commits `block`.
    public func apply(_ block: Block) throws(BlockError) {
        let executed = try verify(block)
        do { try store.commit(block, stateWrites: executed.stateWrites, tree: executed.tree) } catch { throw .store(error) }
    }
}
