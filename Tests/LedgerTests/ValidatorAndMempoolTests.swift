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

    func transfer(_ key: SigningKey, nonce: UInt64) -> SignedTransaction {
        Transaction(sender: key.publicKey, nonce: nonce, fee: 1, body: .transfer(to: key.publicKey, amount: 1)).signed(by: key, chainID: chainID)
    }

    @Test func reapsConsecutiveNoncesAndTakesTurnsAcrossSenders() throws {
        let pool = Mempool()
        let (a, b) = (SigningKey(), SigningKey())
        for nonce in [0, 1, 2, 4] as [UInt64] { try pool.add(transfer(a, nonce: nonce), committedNonce: 0) }
        for nonce in [0, 1] as [UInt64] { try pool.add(transfer(b, nonce: nonce), committedNonce: 0) }
        let reaped = pool.reap(countMax: 100, bytesMax: 1 << 20) { _ in 0 }
        // Nonce 4 of a waits for 3; senders alternate.
        #expect(reaped.map(\.transaction.nonce) == [0, 0, 1, 1, 2])
        #expect(reaped.map(\.transaction.sender) == [a, b, a, b, a].map(\.publicKey))
        #expect(pool.reap(countMax: 3, bytesMax: 1 << 20) { _ in 0 }.count == 3)
        #expect(pool.nextNonce(for: a.publicKey, committedNonce: 0) == 3)
    }

    @Test func refusesDuplicatesStaleAndFarNonces() throws {
        let pool = Mempool(limits: .init(transactionsMax: 3, bytesMax: 1 << 20, perAccountMax: 2))
        let key = SigningKey()
        let first = transfer(key, nonce: 5)
        try pool.add(first, committedNonce: 5)
        #expect(throws: MempoolRejection.alreadyKnown) { try pool.add(first, committedNonce: 5) }
        #expect(throws: MempoolRejection.staleNonce(committed: 5, got: 4)) { try pool.add(transfer(key, nonce: 4), committedNonce: 5) }
        #expect(throws: MempoolRejection.nonceTooFarAhead(committed: 5, got: 7, window: 2)) {
            try pool.add(transfer(key, nonce: 7), committedNonce: 5)
        }
        let sameNonce = Transaction(sender: key.publicKey, nonce: 5, fee: 2, body: .stake(amount: 1)).signed(by: key, chainID: chainID)
        #expect(throws: MempoolRejection.nonceTaken(5)) { try pool.add(sameNonce, committedNonce: 5) }
        try pool.add(transfer(SigningKey(), nonce: 0), committedNonce: 0)
        try pool.add(transfer(SigningKey(), nonce: 0), committedNonce: 0)
        #expect(throws: MempoolRejection.full) { try pool.add(transfer(SigningKey(), nonce: 0), committedNonce: 0) }
        #expect(pool.count == 3)
    }

    @Test func removalDropsIncludedAndStaleTransactions() throws {
        let pool = Mempool()
        let key = SigningKey()
        let transactions = (0..<4).map { transfer(key, nonce: UInt64($0)) }
        for transaction in transactions { try pool.add(transaction, committedNonce: 0) }
        let bytesBefore = pool.bytes
        // Block included nonces 0 and 1; nonce 2 was replaced on chain by another transaction.
        pool.remove([transactions[0].hash, transactions[1].hash]) { _ in 3 }
        #expect(pool.count == 1)
        #expect(pool.transaction(transactions[3].hash) != nil)
        #expect(pool.bytes == bytesBefore / 4)
    }
}
