import Crypto
import Foundation
import Ledger

/// A chain history for a testnet made before its nodes first start (`tributary testnet
/// --history-blocks N`): blocks proposed by the scheduled proposer and certified by every
/// validator's own key, committed into node0's store, which every other node then gets a copy
/// of. A node joining later has a real chain to block-sync — in seconds instead of the minutes
/// consensus would take to make it — for the sync tests and `bench sync`.
struct TestnetHistory {
    let blocks: Int
    /// Transfers in each block, among `accounts`.
    let transfersPerBlock: Int
    /// Accounts funded at genesis (`allocations`) that the transfers move money among.
    let accounts: [SigningKey]

    /// Milliseconds between the history's block times; the genesis is dated far enough back
    /// (`genesisTime`) that the last block is in the past when the nodes start.
    static let blockSpacingMs: UInt64 = 1
    static let accountBalanceOPEN: UInt64 = 1_000_000

    init(blocks: Int, transfersPerBlock: Int) {
        self.blocks = blocks
        self.transfersPerBlock = transfersPerBlock
        accounts = transfersPerBlock == 0 ? [] : (0..<max(2, min(transfersPerBlock, 4_096))).map { _ in SigningKey() }
    }

    var allocations: [Genesis.Allocation] {
        accounts.map { .init(address: $0.publicKey, amount: Self.accountBalanceOPEN * OPEN.atomicUnitsPerOPEN) }
    }

    /// The history's transfer number `index`: accounts take turns sending 1 unit to the next
    /// account, so each sender's nonces rise in order.
    func transfer(_ index: Int, chainID: String, fee: UInt64) -> SignedTransaction {
        let sender = index % accounts.count
        let receiver = accounts[(sender + 1) % accounts.count].publicKey
        return Transaction(sender: accounts[sender].publicKey, nonce: UInt64(index / accounts.count), fee: fee,
                           body: .transfer(to: receiver, amount: 1)).signed(by: accounts[sender], chainID: chainID)
    }

    /// A genesis time (unix seconds) an hour plus the history's span before `now`.
    func genesisTime(now: UInt64) -> UInt64 {
        now - 3_600 - UInt64(blocks) * Self.blockSpacingMs / 1_000
    }

    /// Commits the history into the first member's store and copies that store to the others.
    func write(into network: TestnetCommand.Network, validatorKeys: [SigningKey]) throws {
        let first = network.members[0].home
        do {
            let store = try first.openStore()
            try commitBlocks(into: store, validatorKeys: validatorKeys)
        }  // closed here: the copies below must see a closed database
        for member in network.members.dropFirst() {
            try FileManager.default.copyItem(atPath: first.dataPath, toPath: member.home.dataPath)
        }
    }

    private func commitBlocks(into store: ChainStore, validatorKeys: [SigningKey]) throws {
        let execution = BlockExecution(store: store)
        let chainID = store.status!.chainID
        let minFee = store.parameters.minFee
        for blockIndex in 0..<blocks {
            let status = store.status!
            let first = blockIndex * transfersPerBlock
            let transactions = (first..<first + transfersPerBlock).map { transfer($0, chainID: chainID, fee: minFee) }
            let validators = try store.validatorSet(forHeight: status.height + 1)
            let proposer = store.proposerSchedule!.proposer(round: 0)
            let executed = execution.propose(transactions, timeMs: status.lastBlockTimeMs + Self.blockSpacingMs, proposer: proposer)
            guard executed.rejected.isEmpty, executed.transactions.count == transfersPerBlock else {
                throw CommandError("history block \(status.height + 1): \(executed.rejected.count) transfers rejected, first: \(executed.rejected.first.map { "\($0.reason)" } ?? "none")")
            }
            let signers = validatorKeys.filter { validators.power(of: $0.publicKey) > 0 }
            let block = Block(header: executed.header, transactions: executed.transactions,
                              certificate: .signing(executed.header, round: 0, keys: signers))
            try store.commit(block, stateWrites: executed.stateWrites, tree: executed.tree)
        }
    }
}
