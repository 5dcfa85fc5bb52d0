import Crypto
import Ledger
import Testing

@Suite struct TransactionRuleTests {
    let alice = SigningKey()
    let bob = SigningKey()

    @Test func transferMovesAmountAndFee() throws {
        let chain = try TestChain(funded: [alice])
        let before = chain.balance(alice)
        let (block, rejected) = try chain.commit([chain.sign(.transfer(to: bob.publicKey, amount: 5 * OPEN.atomicUnitsPerOPEN), by: alice)])
        #expect(rejected.isEmpty)
        #expect(block.transactions.count == 1)
        #expect(chain.balance(bob) == 5 * OPEN.atomicUnitsPerOPEN)
        #expect(chain.balance(alice) == before - 5 * OPEN.atomicUnitsPerOPEN - TestChain.minFee)
        #expect(chain.store.account(chain.validator.publicKey).balance == TestChain.minFee)
        #expect(chain.store.account(alice.publicKey).nonce == 1)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func badSignatureIsRejected() throws {
        let chain = try TestChain(funded: [alice])
        let good = chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice)
        var forged = good.signature.bytes
        forged[0] ^= 0x80
        let bad = SignedTransaction(transaction: good.transaction, signature: Signature(forged)!)
        #expect(throws: TransactionRejection.invalidSignature) { try chain.check(bad) }
        // Signed by someone else for alice's account.
        let impostor = SignedTransaction(
            transaction: good.transaction, signature: bob.sign(good.transaction.canonicalBytes, domain: .transaction, chainID: TestChain.chainID))
        #expect(throws: TransactionRejection.invalidSignature) { try chain.check(impostor) }
    }

    @Test func wrongChainIDIsRejected() throws {
        let chain = try TestChain(funded: [alice])
        let otherChain = chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice, chainID: "mainnet")
        #expect(throws: TransactionRejection.invalidSignature) { try chain.check(otherChain) }
    }

    @Test func replayedNonceIsRejected() throws {
        let chain = try TestChain(funded: [alice])
        let transfer = chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice)
        try chain.commit([transfer])
        #expect(throws: TransactionRejection.wrongNonce(expected: 1, got: 0)) { try chain.check(transfer) }
        let (block, rejected) = try chain.commit([transfer])
        #expect(block.transactions.isEmpty)
        #expect(rejected.map(\.reason) == [.wrongNonce(expected: 1, got: 0)])
        #expect(throws: TransactionRejection.wrongNonce(expected: 1, got: 5)) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice, nonce: 5))
        }
    }

    @Test func insufficientFundsAndLowFeesAreRejected() throws {
        let chain = try TestChain(funded: [alice], balance: 10_000)
        #expect(throws: TransactionRejection.insufficientFunds(needed: 10_001, balance: 10_000)) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 9_001), by: alice))
        }
        try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 9_000), by: alice))
        #expect(throws: TransactionRejection.feeTooLow(minimum: TestChain.minFee, got: 999)) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice, fee: 999))
        }
        #expect(throws: TransactionRejection.insufficientFunds(needed: 1_001, balance: 0)) {
            try chain.check(chain.sign(.transfer(to: alice.publicKey, amount: 1), by: bob))
        }
        #expect(throws: TransactionRejection.zeroAmount) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 0), by: alice))
        }
    }

    @Test func overflowingAmountsAreRejected() throws {
        let chain = try TestChain(funded: [alice])
        #expect(throws: TransactionRejection.amountOverflow) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: UInt64.max), by: alice))
        }
        #expect(throws: TransactionRejection.amountOverflow) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice, fee: UInt64.max))
        }
        #expect(throws: TransactionRejection.amountOverflow) {
            try chain.check(chain.sign(.stake(amount: UInt64.max - 500), by: alice))
        }
    }

    @Test func lockedTokensUnlockOnTheVestingSchedule() throws {
        let grant = 36_000 * OPEN.atomicUnitsPerOPEN
        let start = TestChain.genesisTime
        let month: UInt64 = 2_629_746
        let schedule = VestingSchedule(amount: grant, startTime: start, cliffSeconds: 12 * month, durationSeconds: 36 * month)
        let chain = try TestChain(funded: [], vesting: [.init(address: alice.publicKey, schedule: schedule)])
        let spendOne = chain.sign(.transfer(to: bob.publicKey, amount: OPEN.atomicUnitsPerOPEN), by: alice)

        // Before the cliff everything is locked.
        #expect(throws: TransactionRejection.lockedFunds(needed: OPEN.atomicUnitsPerOPEN + TestChain.minFee, spendable: 0, locked: grant)) {
            try chain.check(spendOne, atTimeMs: (start + 12 * month - 1) * 1000)
        }
        // At the cliff a third has unlocked (12 of 36 months, linear from the start).
        #expect(schedule.lockedAmount(at: start + 12 * month) == grant - grant / 3)
        try chain.check(spendOne, atTimeMs: (start + 12 * month) * 1000)
        let unlockedAtCliff = grant / 3
        #expect(throws: TransactionRejection.self) {
            try chain.check(chain.sign(.transfer(to: bob.publicKey, amount: unlockedAtCliff), by: alice), atTimeMs: (start + 12 * month) * 1000)
        }
        // Halfway, half; at the end, all.
        #expect(schedule.lockedAmount(at: start + 18 * month) == grant / 2)
        #expect(schedule.lockedAmount(at: start + 36 * month) == 0)
        #expect(schedule.lockedAmount(at: start + 36 * month - 1) > 0)
        try chain.commit([chain.sign(.transfer(to: bob.publicKey, amount: grant - TestChain.minFee), by: alice)],
                         timeMs: (start + 36 * month) * 1000)
        #expect(chain.balance(alice) == 0)
        #expect(chain.balance(bob) == grant - TestChain.minFee)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func lockedTokensCannotBeStakedEither() throws {
        let schedule = VestingSchedule(amount: 1_000 * OPEN.atomicUnitsPerOPEN, startTime: TestChain.genesisTime,
                                       cliffSeconds: 0, durationSeconds: 1_000_000_000)
        let chain = try TestChain(funded: [], vesting: [.init(address: alice.publicKey, schedule: schedule)])
        #expect(throws: TransactionRejection.self) {
            try chain.check(chain.sign(.stake(amount: TestChain.minStake), by: alice))
        }
    }

    @Test func datanetsAndContributions() throws {
        let chain = try TestChain(funded: [alice, bob])
        let register = chain.sign(.registerDatanet(name: "medical-notes", description: "de-identified notes"), by: alice)
        try chain.commit([register])
        let id = DatanetID.derive(creator: alice.publicKey, nonce: 0)
        let datanet: Datanet = try #require(chain.store.record(.datanet(id)))
        #expect(datanet.owner == alice.publicKey && datanet.name == "medical-notes")

        let content = Digest.blake2b(Array("a document".utf8))
        let (block, rejected) = try chain.commit([chain.sign(.contribute(datanet: id, contentHash: content, sizeBytes: 10), by: bob)])
        #expect(rejected.isEmpty && block.transactions.count == 1)
        let updated: Datanet = try #require(chain.store.record(.datanet(id)))
        #expect(updated.contributionCount == 1 && updated.contributedBytes == 10)
        let contribution: Contribution = try #require(chain.store.record(.contribution(datanet: id, contentHash: content)))
        #expect(contribution.contributor == bob.publicKey)

        #expect(throws: TransactionRejection.duplicateContribution(content)) {
            try chain.check(chain.sign(.contribute(datanet: id, contentHash: content, sizeBytes: 10), by: alice))
        }
        let unknown = Digest.blake2b([7])
        #expect(throws: TransactionRejection.unknownDatanet(unknown)) {
            try chain.check(chain.sign(.contribute(datanet: unknown, contentHash: content, sizeBytes: 1), by: alice))
        }
        #expect(throws: TransactionRejection.zeroAmount) {
            try chain.check(chain.sign(.contribute(datanet: id, contentHash: Digest.blake2b([8]), sizeBytes: 0), by: alice))
        }
        #expect(throws: TransactionRejection.invalidName("datanet name must be 1 to 64 bytes")) {
            try chain.check(chain.sign(.registerDatanet(name: "", description: ""), by: alice))
        }
        #expect(throws: TransactionRejection.invalidName("datanet name must not contain control characters")) {
            try chain.check(chain.sign(.registerDatanet(name: "a\u{7}b", description: ""), by: alice))
        }
    }

    @Test func adapterRegistration() throws {
        let chain = try TestChain(funded: [alice])
        try chain.commit([chain.sign(.registerDatanet(name: "a", description: ""), by: alice),
                          chain.sign(.registerDatanet(name: "b", description: ""), by: alice, nonce: 1)])
        let ids = [DatanetID.derive(creator: alice.publicKey, nonce: 0), DatanetID.derive(creator: alice.publicKey, nonce: 1)].sorted()
        let adapter = Digest.blake2b(Array("adapter weights".utf8))
        let base = Digest.blake2b(Array("base model".utf8))
        let register = chain.sign(.registerAdapter(adapterHash: adapter, baseModelHash: base, datanets: ids, name: "qv-r8", pricePerToken: 25), by: alice)
        try chain.commit([register])
        let record: AdapterRecord = try #require(chain.store.record(.adapter(adapter)))
        #expect(record.owner == alice.publicKey && record.datanets == ids && record.pricePerToken == 25)

        #expect(throws: TransactionRejection.adapterAlreadyRegistered(adapter)) {
            try chain.check(chain.sign(.registerAdapter(adapterHash: adapter, baseModelHash: base, datanets: [], name: "x", pricePerToken: 1), by: alice))
        }
        let other = Digest.blake2b([1])
        #expect(throws: TransactionRejection.invalidLineage("datanet lineage must be in ascending order without repeats")) {
            try chain.check(chain.sign(.registerAdapter(adapterHash: other, baseModelHash: base, datanets: ids.reversed(), name: "x", pricePerToken: 1), by: alice))
        }
        #expect(throws: TransactionRejection.invalidLineage("datanet lineage must be in ascending order without repeats")) {
            try chain.check(chain.sign(.registerAdapter(adapterHash: other, baseModelHash: base, datanets: [ids[0], ids[0]], name: "x", pricePerToken: 1), by: alice))
        }
        let missing = Digest.blake2b([9])
        #expect(throws: TransactionRejection.unknownDatanet(missing)) {
            try chain.check(chain.sign(.registerAdapter(adapterHash: other, baseModelHash: base, datanets: [missing], name: "x", pricePerToken: 1), by: alice))
        }
    }

    @Test func stakingRules() throws {
        let chain = try TestChain(funded: [alice])
        #expect(throws: TransactionRejection.stakeBelowMinimum(minimum: TestChain.minStake, resulting: TestChain.minStake - 1)) {
            try chain.check(chain.sign(.stake(amount: TestChain.minStake - 1), by: alice))
        }
        try chain.commit([chain.sign(.stake(amount: 2 * TestChain.minStake), by: alice)])
        #expect(chain.store.record(.validator(alice.publicKey), as: ValidatorRecord.self)?.stake == 2 * TestChain.minStake)
        #expect(throws: TransactionRejection.stakeBelowMinimum(minimum: TestChain.minStake, resulting: TestChain.minStake / 2)) {
            try chain.check(chain.sign(.unstake(amount: TestChain.minStake * 3 / 2), by: alice))
        }
        #expect(throws: TransactionRejection.insufficientStake(staked: 2 * TestChain.minStake, requested: 3 * TestChain.minStake)) {
            try chain.check(chain.sign(.unstake(amount: 3 * TestChain.minStake), by: alice))
        }
        let before = chain.balance(alice)
        let unstaked = try chain.commit([chain.sign(.unstake(amount: 2 * TestChain.minStake), by: alice)]).block
        #expect(chain.store.record(.validator(alice.publicKey), as: ValidatorRecord.self) == nil)
        // The stake unbonds: locked until `evidenceMaxAgeHeights` + 2 later (evidence of the two
        // heights it still voted at may come that late), then back with the next transaction.
        #expect(chain.balance(alice) == before - TestChain.minFee)
        let entry = try #require(chain.store.record(.unbonding(alice.publicKey), as: Unbonding.self)?.entries.first)
        #expect(entry.amount == 2 * TestChain.minStake && entry.releaseHeight == unstaked.header.height + 100_000 + 2)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func unbondedStakeReturnsAfterTheUnbondingPeriod() throws {
        let chain = try TestChain(funded: [alice], evidenceMaxAgeHeights: 3)
        try chain.commit([chain.sign(.stake(amount: TestChain.minStake), by: alice)])
        try chain.commit([chain.sign(.unstake(amount: TestChain.minStake), by: alice)])  // height 2: releases at 2 + 3 + 2
        let before = chain.balance(alice)
        try chain.commit([chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice)])  // height 3: still locked
        #expect(chain.balance(alice) == before - 1 - TestChain.minFee)
        for _ in 4...6 { try chain.commit([]) }
        try chain.commit([chain.sign(.transfer(to: bob.publicKey, amount: 1), by: alice)])  // height 7: released
        #expect(chain.balance(alice) == before - 2 - 2 * TestChain.minFee + TestChain.minStake)
        #expect(chain.store.record(.unbonding(alice.publicKey), as: Unbonding.self) == nil)
        #expect(chain.circulating() == chain.supply)
        // Unstakes waiting at once are bounded.
        try chain.commit([chain.sign(.stake(amount: 2 * TestChain.minStake), by: alice)])
        let nonce = chain.store.account(alice.publicKey).nonce
        let unstakes = (0..<Unbonding.entriesMax).map {
            chain.sign(.unstake(amount: OPEN.atomicUnitsPerOPEN), by: alice, nonce: nonce + UInt64($0))
        }
        #expect(try chain.commit(unstakes).rejected.isEmpty)
        #expect(throws: TransactionRejection.tooManyUnbondings(max: Unbonding.entriesMax)) {
            try chain.check(chain.sign(.unstake(amount: OPEN.atomicUnitsPerOPEN), by: alice))
        }
    }

    @Test func unbondingReleasesByHeight() {
        let unbonding = Unbonding(entries: [.init(amount: 5, unstakedHeight: 1, releaseHeight: 10), .init(amount: 7, unstakedHeight: 2, releaseHeight: 12)])
        #expect(unbonding.released(atHeight: 9) == 0 && unbonding.released(atHeight: 10) == 5)
        #expect(unbonding.released(atHeight: 12) == 12 && unbonding.total == 12)
    }

    @Test func rejectedTransactionsLeaveStateUntouched() throws {
        let chain = try TestChain(funded: [alice], balance: 5_000)
        let appHash = chain.store.status!.appHash
        let (block, rejected) = try chain.commit([chain.sign(.transfer(to: bob.publicKey, amount: 10_000), by: alice)])
        #expect(block.transactions.isEmpty && rejected.count == 1)
        #expect(block.header.appHash == appHash)
        #expect(chain.store.account(alice.publicKey) == Account(balance: 5_000, nonce: 0))
    }
}
