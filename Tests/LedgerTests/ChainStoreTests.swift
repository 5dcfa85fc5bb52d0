import Consensus
import Crypto
import Foundation
import Ledger
import Testing

@Suite struct ChainStoreTests {
    let accounts = (0..<8).map { _ in SigningKey() }

    /// Random but valid traffic: transfers, a datanet with contributions, stakes.
    func traffic(_ chain: TestChain, blocks: Int, seed: UInt64) throws -> [Block] {
        var random = SeededGenerator(seed: seed)
        var committed: [Block] = []
        try chain.commit([chain.sign(.registerDatanet(name: "d", description: ""), by: accounts[0])])
        let datanet = DatanetID.derive(creator: accounts[0].publicKey, nonce: 0)
        for _ in 0..<blocks {
            var nonces: [Int: UInt64] = [:]
            var transactions: [SignedTransaction] = []
            for _ in 0..<Int(random.next() % 20) {
                let sender = Int(random.next() % UInt64(accounts.count))
                let nonce = nonces[sender] ?? chain.store.account(accounts[sender].publicKey).nonce
                nonces[sender] = nonce + 1
                let body: TransactionBody = switch random.next() % 6 {
                case 0: .contribute(datanet: datanet, contentHash: Digest.blake2b(Array("\(random.next())".utf8)), sizeBytes: 1 + random.next() % 1000)
                case 1: .stake(amount: TestChain.minStake)
                default: .transfer(to: accounts[Int(random.next() % UInt64(accounts.count))].publicKey, amount: 1 + random.next() % OPEN.atomicUnitsPerOPEN)
                }
                transactions.append(chain.sign(body, by: accounts[sender], nonce: nonce))
            }
            committed.append(try chain.commit(transactions).block)
            #expect(chain.circulating() == chain.supply)
        }
        return committed
    }

    @Test func twoIndependentExecutionsGiveEqualAppHashes() throws {
        let validator = SigningKey()
        let first = try TestChain(funded: accounts, validator: validator)
        let blocks = try traffic(first, blocks: 25, seed: 7)
        #expect(blocks.contains { $0.transactions.count > 5 })

        // A second store executes the same blocks from the same genesis, verifying each.
        let second = try ChainStore(path: first.directory + "-replica")
        defer { try? FileManager.default.removeItem(atPath: first.directory + "-replica") }
        try second.initialize(genesis: first.genesis)
        let execution = BlockExecution(store: second)
        let genesisBlockHashes = try (1...first.store.status!.height).map { try first.store.block(at: $0)! }
        for block in genesisBlockHashes {
            try execution.apply(block)
            #expect(second.status!.appHash == block.header.appHash)
        }
        #expect(second.status == first.store.status)
    }

    @Test func replayChecksEveryRecord() throws {
        let chain = try TestChain(funded: accounts)
        _ = try traffic(chain, blocks: 10, seed: 11)
        let target = try ChainStore(path: chain.directory + "-replay")
        defer { try? FileManager.default.removeItem(atPath: chain.directory + "-replay") }
        #expect(try ChainReplay.replay(chain.store, into: target) == chain.store.status!.height)
    }

    @Test func reopeningRestoresTheLastCommittedBlock() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reopen-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let status: ChainStatus
        do {
            let chain = try TestChain(funded: accounts)
            _ = try traffic(chain, blocks: 5, seed: 3)
            status = chain.store.status!
            try FileManager.default.copyItem(atPath: chain.directory, toPath: directory)
        }
        let reopened = try ChainStore(path: directory)
        #expect(reopened.status == status)
        #expect(try reopened.block(at: status.height)?.hash == status.lastBlockHash)
        #expect(try reopened.block(at: status.height + 1) == nil)
    }

    /// Tree nodes are written every `treeCheckpointBlocks` blocks; a store reopened between two
    /// checkpoints rebuilds the nodes of the blocks since from the keys they changed, and then
    /// computes the same roots as the store that never closed.
    @Test func reopeningBetweenTreeCheckpointsRebuildsTheTree() throws {
        let chain = try TestChain(funded: accounts)
        for blocks in [3, Int(ChainStore.treeCheckpointBlocks)] {
            _ = try traffic(chain, blocks: blocks, seed: UInt64(blocks))
            let status = chain.store.status!
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try FileManager.default.copyItem(atPath: chain.directory, toPath: directory)
            let reopened = try ChainStore(path: directory)
            #expect(reopened.status == status)
            let probe: [StateKey: [UInt8]?] = [.account(accounts[0].publicKey): [1, 2, 3], .account(SigningKey().publicKey): [4]]
            #expect(reopened.prepareStateUpdate([:]).rootHash == status.appHash)
            #expect(reopened.prepareStateUpdate(probe).rootHash == chain.store.prepareStateUpdate(probe).rootHash)
        }
        #expect(chain.store.status!.height > ChainStore.treeCheckpointBlocks)
    }

    /// Found by the e2e soak: four validators restarted together between checkpoints, and after
    /// the next checkpoint they computed an app hash that a node which had not restarted (and a
    /// replay from genesis) did not. Reopening rebuilt the tree nodes of the blocks since the
    /// checkpoint, reading the checkpoint's versions into the node cache on the way; once the next
    /// checkpoint wrote the rebuilt nodes out and let go of them, a record changed only before the
    /// reopening (and not since) was read through the stale cached nodes.
    @Test func aStoreReopenedBetweenCheckpointsAgreesPastTheNextOnes() throws {
        let chain = try TestChain(funded: accounts)
        // Accounts 0 and 1 change only before the reopening; 2 and 3 keep changing after it.
        for amount in 1...3 { try chain.commit([chain.sign(.transfer(to: accounts[1].publicKey, amount: UInt64(amount)), by: accounts[0])]) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reopened-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: chain.directory, toPath: directory)
        let reopened = try ChainStore(path: directory)
        let execution = BlockExecution(store: reopened)
        func follow() throws {
            for height in (reopened.status!.height + 1)...chain.store.status!.height {
                try execution.apply(try #require(try chain.store.block(at: height)))
            }
        }
        for _ in 0..<(2 * Int(ChainStore.treeCheckpointBlocks)) {
            try chain.commit([chain.sign(.transfer(to: accounts[3].publicKey, amount: 1), by: accounts[2])])
        }
        try follow()
        // Past a checkpoint, both read the same tree, node for node.
        func nodes(_ store: ChainStore) -> [TreePosition: TreeNode] {
            var found: [TreePosition: TreeNode] = [:]
            var positions = [TreePosition.root]
            while let position = positions.popLast() {
                guard let node = store.treeNode(at: position) else { continue }
                found[position] = node
                if case .internal = node { positions += [position.child(false), position.child(true)] }
            }
            return found
        }
        let (mine, theirs) = (nodes(reopened), nodes(chain.store))
        let differing = Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }
        #expect(differing.isEmpty, "\(differing.count) of \(theirs.count) tree nodes differ after reopening")
        // Every other account changes now: some share tree nodes with accounts 0 and 1.
        try chain.commit(accounts.indices.dropFirst(4).map { chain.sign(.transfer(to: accounts[2].publicKey, amount: 1), by: accounts[$0]) })
        try follow()
        #expect(reopened.status == chain.store.status)
    }

    @Test func invalidBlocksAreRefused() throws {
        let chain = try TestChain(funded: accounts)
        let transfer = chain.sign(.transfer(to: accounts[1].publicKey, amount: 10), by: accounts[0])
        let executed = chain.execution.propose([transfer], timeMs: TestChain.genesisTime * 1000 + 5_000, proposer: chain.validator.publicKey)
        let good = Block(header: executed.header, transactions: executed.transactions,
                         certificate: .signing(executed.header, round: 0, keys: [chain.validator]))
        _ = try chain.execution.verify(good)

        func refusal(_ block: Block) -> BlockError? {
            #expect(throws: BlockError.self) { try chain.execution.verify(block) }
        }
        func certified(_ header: BlockHeader) -> CommitCertificate { .signing(header, round: 0, keys: [chain.validator]) }

        var wrongApp = good
        wrongApp.header.appHash = Digest.blake2b([0])
        wrongApp.certificate = certified(wrongApp.header)
        guard case .wrongAppHash = refusal(wrongApp) else { Issue.record("wrong app hash accepted"); return }

        var unsigned = good
        unsigned.certificate = .signing(good.header, round: 0, keys: [SigningKey()])
        guard case .invalidCertificate(.notAValidator) = refusal(unsigned) else { Issue.record("foreign certificate accepted"); return }

        var staleTime = good
        staleTime.header.timeMs = TestChain.genesisTime * 1000
        staleTime.certificate = certified(staleTime.header)
        guard case .timeNotIncreasing = refusal(staleTime) else { Issue.record("stale time accepted"); return }

        // Transactions over Block.transactionBytesMax (validity is not looked at first).
        var oversize = good
        oversize.transactions = Array(repeating: transfer, count: Block.transactionBytesMax / transfer.canonicalBytes.count + 1)
        oversize.header.transactionsRoot = MerkleRoot.of(oversize.transactions.map(\.hash))
        oversize.certificate = certified(oversize.header)
        guard case .tooLarge = refusal(oversize) else { Issue.record("an oversize block accepted"); return }

        var tampered = good
        tampered.transactions = [chain.sign(.transfer(to: accounts[1].publicKey, amount: 11), by: accounts[0])]
        guard case .wrongTransactionsRoot = refusal(tampered) else { Issue.record("tampered transactions accepted"); return }

        var wrongHeight = good
        wrongHeight.header.height = 2
        wrongHeight.certificate = certified(wrongHeight.header)
        guard case .wrongHeight = refusal(wrongHeight) else { Issue.record("wrong height accepted"); return }

        var forged = good
        let impersonation = Transaction(sender: accounts[0].publicKey, nonce: 0, fee: TestChain.minFee,
                                        body: .transfer(to: accounts[1].publicKey, amount: 10))
        forged.transactions = [SignedTransaction(
            transaction: impersonation,
            signature: accounts[2].sign(impersonation.canonicalBytes, domain: .transaction, chainID: TestChain.chainID))]
        forged.header.transactionsRoot = MerkleRoot.of(forged.transactions.map(\.hash))
        forged.certificate = certified(forged.header)
        guard case .invalidTransaction(0, .invalidSignature) = refusal(forged) else { Issue.record("forged transaction accepted"); return }
        #expect(chain.store.status!.height == 0)
    }

    @Test func storeRefusesADifferentGenesis() throws {
        let chain = try TestChain(funded: accounts)
        var other = chain.genesis
        other.genesisTime += 1
        #expect(throws: StoreError.self) { try chain.store.initialize(genesis: other) }
        try chain.store.initialize(genesis: chain.genesis)
    }
}
