import Crypto
import Foundation
import Ledger

/// A real chain in a temporary RocksDB store for tests: a genesis with one validator and a few
/// funded accounts, and helpers to sign transactions and commit blocks.
final class TestChain {
    static let chainID = "testnet"
    static let genesisTime: UInt64 = 1_800_000_000
    static let minFee: UInt64 = 1_000
    static let minStake: UInt64 = 100 * OPEN.atomicUnitsPerOPEN

    let directory: String
    let store: ChainStore
    let execution: BlockExecution
    let validator: SigningKey
    let genesis: Genesis
    private var nextTimeMs: UInt64

    /// `funded` accounts get `balance` atomic units; `vesting` adds locked grants.
    init(funded: [SigningKey], balance: UInt64 = 1_000 * OPEN.atomicUnitsPerOPEN,
         vesting: [Genesis.Vesting] = [], validator: SigningKey = SigningKey(),
         otherValidators: [Genesis.Validator] = [], evidenceMaxAgeHeights: UInt64 = 100_000, royalties: RoyaltyRules = .standard) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString)").path
        self.validator = validator
        genesis = Genesis(
            chainID: Self.chainID, genesisTime: Self.genesisTime,
            parameters: ChainParameters(minFee: Self.minFee, minStake: Self.minStake, evidenceMaxAgeHeights: evidenceMaxAgeHeights, royalties: royalties),
            validators: [.init(address: validator.publicKey, power: 1_000_000)] + otherValidators,
            allocations: funded.map { .init(address: $0.publicKey, amount: balance) },
            vesting: vesting)
        store = try ChainStore(path: directory)
        try store.initialize(genesis: genesis)
        execution = BlockExecution(store: store)
        nextTimeMs = Self.genesisTime * 1000 + 1000
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A signed transaction from `key` with the next committed nonce unless given.
    func sign(_ body: TransactionBody, by key: SigningKey, nonce: UInt64? = nil, fee: UInt64 = TestChain.minFee,
              chainID: String = TestChain.chainID) -> SignedTransaction {
        Transaction(sender: key.publicKey, nonce: nonce ?? store.account(key.publicKey).nonce, fee: fee, body: body)
            .signed(by: key, chainID: chainID)
    }

    /// Applies one transaction to the committed state in the next block's context, without
    /// committing: the rules' verdict on it.
    func check(_ transaction: SignedTransaction, atTimeMs timeMs: UInt64? = nil) throws(TransactionRejection) {
        let executor = Executor(chainID: Self.chainID)
        try executor.checkSignature(transaction)
        var state = StateOverlay(base: store)
        let context = BlockContext(following: store, timeMs: timeMs ?? nextTimeMs, proposer: validator.publicKey)
        try executor.apply(transaction, to: &state, context: context)
    }

    /// Proposes, certifies and commits a block of `transactions` at the next time step (or
    /// `timeMs`); returns it with the transactions that were left out.
    @discardableResult
    func commit(_ transactions: [SignedTransaction], timeMs: UInt64? = nil) throws -> (block: Block, rejected: [(hash: Digest, reason: TransactionRejection)]) {
        let time = timeMs ?? nextTimeMs
        nextTimeMs = time + 1000
        let executed = execution.propose(transactions, timeMs: time, proposer: validator.publicKey)
        let block = Block(
            header: executed.header, transactions: executed.transactions,
            certificate: .signing(executed.header, round: 0, keys: [validator]))
        try store.commit(block, stateWrites: executed.stateWrites, tree: executed.tree)
        return (block, executed.rejected)
    }

    func balance(_ key: SigningKey) -> UInt64 { store.account(key.publicKey).balance }

    /// Balances plus stakes plus unbonding stake: must always equal the recorded supply.
    func circulating() -> UInt64 { try! store.circulatingSupply() }

    var supply: UInt64 { store.record(.supply, as: Supply.self)!.total }
}
