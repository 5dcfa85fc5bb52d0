import Crypto
import Ledger
import Testing

@Suite struct ValidatorSetTests {
    @Test func stakeChangesTakeEffectTwoHeightsLater() throws {
        let joiner = SigningKey()
        let chain = try TestChain(funded: [joiner], balance: 10_000 * OPEN.atomicUnitsPerOPEN)
        let genesisSet = try chain.store.validatorSet(forHeight: 1)
        #expect(genesisSet.members.map(\.address) == [chain.validator.publicKey])

        let (block, _) = try chain.commit([chain.sign(.stake(amount: 500 * OPEN.atomicUnitsPerOPEN), by: joiner)])
        let height = block.header.height
        #expect(try chain.store.validatorSet(forHeight: height + 1) == genesisSet)
        let later = try chain.store.validatorSet(forHeight: height + 2)
        #expect(later.power(of: joiner.publicKey) == 500)
        #expect(try chain.store.validatorSet(forHeight: height + 50) == later)

        let unstake = try chain.commit([chain.sign(.unstake(amount: 500 * OPEN.atomicUnitsPerOPEN), by: joiner)]).block
        #expect(unstake.header.height == height + 1)
        #expect(try chain.store.validatorSet(forHeight: height + 2) == later)
        #expect(try chain.store.validatorSet(forHeight: height + 3) == genesisSet)
    }

    @Test func certificatesNeedMoreThanTwoThirdsOfThePower() throws {
        let keys = (0..<4).map { _ in SigningKey() }
        let set = ValidatorSet(keys.map { ValidatorSet.Member(address: $0.publicKey, power: 10) })
        let header = BlockHeader(chainID: "c", height: 1, timeMs: 1, previousHash: .zero, transactionsRoot: .zero,
                                 appHash: .zero, proposer: keys[0].publicKey)
        try set.verify(.signing(header, round: 0, keys: Array(keys.prefix(3))), for: header)
        #expect(throws: CertificateError.insufficientPower(signed: 20, total: 40)) {
            try set.verify(.signing(header, round: 0, keys: Array(keys.prefix(2))), for: header)
        }
        let outsider = SigningKey()
        #expect(throws: CertificateError.notAValidator(outsider.publicKey)) {
            try set.verify(.signing(header, round: 0, keys: [outsider]), for: header)
        }
        // A precommit for another round or block does not count.
        var otherRound = CommitCertificate.signing(header, round: 1, keys: Array(keys.prefix(3)))
        otherRound.round = 0
        #expect(throws: CertificateError.self) { try set.verify(otherRound, for: header) }
        var duplicated = CommitCertificate.signing(header, round: 0, keys: Array(keys.prefix(2)))
        duplicated.signatures.append(duplicated.signatures[1])
        #expect(throws: CertificateError.notAscending) { try set.verify(duplicated, for: header) }
    }
}

@Suite struct MempoolTests {
    let chainID = "testnet"
    let rich = Account(balance: 1_000_000, nonce: 0)

    func transfer(_ key: SigningKey, nonce: UInt64, fee: UInt64 = 1) -> SignedTransaction {
        Transaction(sender: key.publicKey, nonce: nonce, fee: fee, body: .transfer(to: key.publicKey, amount: 1)).signed(by: key, chainID: chainID)
    }

    /// Adds with `account` as the sender's committed state; other senders' committed nonces
    /// come from `nonces` (default 0).
    func add(_ pool: Mempool, _ transaction: SignedTransaction, account: Account? = nil,
             nonces: [Address: UInt64] = [:]) throws(MempoolRejection) {
        try pool.add(transaction, account: account ?? rich) { nonces[$0] ?? 0 }
    }

    @Test func reapsConsecutiveNoncesAndTakesTurnsAcrossSenders() throws {
        let pool = Mempool()
        let (a, b) = (SigningKey(), SigningKey())
        for nonce in [0, 1, 2, 4] as [UInt64] { try add(pool, transfer(a, nonce: nonce)) }
        for nonce in [0, 1] as [UInt64] { try add(pool, transfer(b, nonce: nonce)) }
        let reaped = pool.reap(countMax: 100, bytesMax: 1 << 20) { _ in 0 }
        // Nonce 4 of a waits for 3; senders alternate.
        #expect(reaped.map(\.transaction.nonce) == [0, 0, 1, 1, 2])
        #expect(reaped.map(\.transaction.sender) == [a, b, a, b, a].map(\.publicKey))
        #expect(pool.reap(countMax: 3, bytesMax: 1 << 20) { _ in 0 }.count == 3)
        #expect(pool.nextNonce(for: a.publicKey) { 0 } == 3)
    }

    /// A transaction behind a missing nonce makes nothing ready: no block is worth proposing
    /// for it until the gap is filled.
    @Test func onlyTransactionsAtTheCommittedNonceAreReady() throws {
        let pool = Mempool()
        let a = SigningKey()
        try add(pool, transfer(a, nonce: 1))
        #expect(pool.count == 1 && !pool.isReady(a.publicKey, committedNonce: 0) && !pool.hasReady { _ in 0 })
        try add(pool, transfer(a, nonce: 0))
        #expect(pool.isReady(a.publicKey, committedNonce: 0) && pool.hasReady { _ in 0 })
        #expect(!pool.hasReady { _ in 2 })
    }

    /// A committed block whose transaction of a nonce is not the one this pool held (another
    /// reached the proposer first) still drops the pool's: that nonce is used.
    @Test func aCommittedBlockDropsThePoolsTransactionOfTheSameNonce() throws {
        let pool = Mempool()
        let a = SigningKey()
        let held = transfer(a, nonce: 0, fee: 1), committed = transfer(a, nonce: 0, fee: 2)
        try add(pool, held)
        pool.removeCommitted([committed]) { _ in 1 }
        #expect(pool.count == 0 && !pool.contains(held.hash))
    }

    @Test func refusesDuplicatesStaleAndFarNonces() throws {
        let pool = Mempool(limits: .init(transactionsMax: 3, bytesMax: 1 << 20, perAccountMax: 2))
        let key = SigningKey()
        let account = Account(balance: 100, nonce: 5)
        let first = transfer(key, nonce: 5)
        try add(pool, first, account: account)
        #expect(throws: MempoolRejection.alreadyKnown) { try add(pool, first, account: account) }
        #expect(throws: MempoolRejection.staleNonce(committed: 5, got: 4)) { try add(pool, transfer(key, nonce: 4), account: account) }
        #expect(throws: MempoolRejection.nonceTooFarAhead(committed: 5, got: 7, window: 2)) {
            try add(pool, transfer(key, nonce: 7), account: account)
        }
        let sameNonce = Transaction(sender: key.publicKey, nonce: 5, fee: 2, body: .stake(amount: 1)).signed(by: key, chainID: chainID)
        #expect(throws: MempoolRejection.nonceTaken(5)) { try add(pool, sameNonce, account: account) }
        let committed = [key.publicKey: UInt64(5)]
        try add(pool, transfer(SigningKey(), nonce: 0), nonces: committed)
        try add(pool, transfer(SigningKey(), nonce: 0), nonces: committed)
        #expect(throws: MempoolRejection.full) { try add(pool, transfer(SigningKey(), nonce: 0), nonces: committed) }
        #expect(pool.count == 3)
    }

    /// A sender's pending fees and amounts together must fit its balance: a transfer whose
    /// amount the balance could not cover after the sender's earlier transactions would fail,
    /// unpaid, when proposed.
    @Test func pendingDebitsMustBeCoveredByTheBalance() throws {
        let pool = Mempool()
        let key = SigningKey()
        let account = Account(balance: 25, nonce: 0)
        func send(_ amount: UInt64, nonce: UInt64, fee: UInt64) -> SignedTransaction {
            Transaction(sender: key.publicKey, nonce: nonce, fee: fee, body: .transfer(to: SigningKey().publicKey, amount: amount)).signed(by: key, chainID: chainID)
        }
        try add(pool, send(18, nonce: 0, fee: 2), account: account)
        #expect(throws: MempoolRejection.debitsExceedBalance(balance: 25)) { try add(pool, send(5, nonce: 1, fee: 1), account: account) }
        let stake = Transaction(sender: key.publicKey, nonce: 1, fee: 1, body: .stake(amount: 5)).signed(by: key, chainID: chainID)
        #expect(throws: MempoolRejection.debitsExceedBalance(balance: 25)) { try add(pool, stake, account: account) }
        let register = Transaction(sender: key.publicKey, nonce: 1, fee: 5, body: .registerDatanet(name: "notes", description: "")).signed(by: key, chainID: chainID)
        try add(pool, register, account: account)
        #expect(throws: MempoolRejection.debitsExceedBalance(balance: 25)) { try add(pool, send(1, nonce: 2, fee: 1), account: account) }
        // Dropping a transaction returns its debit: the sender may queue another in its place.
        pool.remove([register.hash]) { _ in 0 }
        try add(pool, send(4, nonce: 1, fee: 1), account: account)
        #expect(pool.count == 2)
        #expect(throws: MempoolRejection.debitsExceedBalance(balance: 0)) {
            try add(pool, transfer(SigningKey(), nonce: 3, fee: 1), account: Account())
        }
        let overflowing = Transaction(sender: key.publicKey, nonce: 2, fee: 1, body: .transfer(to: key.publicKey, amount: .max)).signed(by: key, chainID: chainID)
        #expect(overflowing.transaction.debit == .max)
        #expect(throws: MempoolRejection.debitsExceedBalance(balance: .max)) { try add(pool, overflowing, account: Account(balance: .max, nonce: 0)) }
    }

    @Test func gapsAreBoundedAndEvictedForReadyTransactions() throws {
        let pool = Mempool(limits: .init(transactionsMax: 4, bytesMax: 1 << 20, perAccountMax: 100, gapsMax: 2))
        let spammer = SigningKey()
        try add(pool, transfer(spammer, nonce: 5))
        try add(pool, transfer(spammer, nonce: 6))
        #expect(throws: MempoolRejection.tooManyGaps(next: 0, max: 2)) { try add(pool, transfer(spammer, nonce: 7)) }
        let honest = SigningKey()
        try add(pool, transfer(honest, nonce: 0))
        try add(pool, transfer(honest, nonce: 1))
        // Full: a ready transaction evicts the newest one stuck behind a gap; a gapped one cannot.
        try add(pool, transfer(honest, nonce: 2))
        #expect(pool.count == 4)
        #expect(pool.transaction(transfer(spammer, nonce: 6).hash) == nil)
        #expect(throws: MempoolRejection.full) { try add(pool, transfer(honest, nonce: 9)) }
    }

    @Test func removalAndReapingDropStaleTransactions() throws {
        let pool = Mempool()
        let key = SigningKey()
        let transactions = (0..<4).map { transfer(key, nonce: UInt64($0)) }
        for transaction in transactions { try add(pool, transaction) }
        let bytesBefore = pool.bytes
        // A block included nonces 0 and 1; nonce 2 was replaced on chain by another transaction.
        pool.remove([transactions[0].hash, transactions[1].hash]) { _ in 3 }
        #expect(pool.count == 1)
        #expect(pool.transaction(transactions[3].hash) != nil)
        #expect(pool.bytes == bytesBefore / 4)
        // Reaping after the account moved past nonce 3 elsewhere drops it too.
        #expect(pool.reap(countMax: 10, bytesMax: 1 << 20) { _ in 4 }.isEmpty)
        #expect(pool.count == 0)
    }
}
