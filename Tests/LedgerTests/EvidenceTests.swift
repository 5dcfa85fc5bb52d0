import Crypto
import Ledger
import Testing

/// Double-signing evidence: executing it burns part of the stake, jails the validator (out
/// of the set two heights later) and is accepted once per validator and height.
@Suite struct EvidenceTests {
    let reporter = SigningKey()
    let cheater = SigningKey()

    func chain(maxAge: UInt64 = 100_000) throws -> TestChain {
        try TestChain(funded: [reporter], otherValidators: [.init(address: cheater.publicKey, power: 1_000)],
                      evidenceMaxAgeHeights: maxAge)
    }

    func conflicting(height: UInt64, by key: SigningKey, chainID: String = TestChain.chainID) -> DuplicateVoteEvidence {
        let a = SignedVote(Vote(kind: .precommit, height: height, round: 2, blockHash: Digest.blake2b([1])), signedBy: key, chainID: chainID)
        let b = SignedVote(Vote(kind: .precommit, height: height, round: 2, blockHash: nil), signedBy: key, chainID: chainID)
        return DuplicateVoteEvidence(a, b)!
    }

    @Test func evidenceSlashesJailsAndShrinksTheSupply() throws {
        let chain = try chain()
        try chain.commit([])
        let supplyBefore = chain.supply
        let stake = 1_000 * OPEN.atomicUnitsPerOPEN
        let (block, rejected) = try chain.commit([chain.sign(.evidence(conflicting(height: 1, by: cheater)), by: reporter)])
        #expect(rejected.isEmpty)
        let record: ValidatorRecord = try #require(chain.store.record(.validator(cheater.publicKey)))
        #expect(record.jailed && record.stake == stake - stake / 20 && record.power == 0)
        #expect(chain.supply == supplyBefore - stake / 20)
        #expect(chain.circulating() == chain.supply)
        let height = block.header.height
        #expect(try chain.store.validatorSet(forHeight: height + 1).power(of: cheater.publicKey) == 1_000)
        #expect(try chain.store.validatorSet(forHeight: height + 2).power(of: cheater.publicKey) == 0)
        #expect(chain.store.record(.slash(validator: cheater.publicKey, height: 1), as: SlashRecord.self)?.amount == stake / 20)
    }

    @Test func stakeUnstakedAfterTheMisbehaviourIsSlashedToo() throws {
        let chain = try TestChain(funded: [reporter, cheater], otherValidators: [.init(address: cheater.publicKey, power: 1_000)])
        try chain.commit([])  // height 1: the double-sign happens here
        try chain.commit([chain.sign(.unstake(amount: 400 * OPEN.atomicUnitsPerOPEN), by: cheater)])  // height 2: tries to run
        let supplyBefore = chain.supply
        try chain.commit([chain.sign(.evidence(conflicting(height: 1, by: cheater)), by: reporter)])
        let unbonding = try #require(chain.store.record(.unbonding(cheater.publicKey), as: Unbonding.self))
        #expect(unbonding.entries.first?.amount == 380 * OPEN.atomicUnitsPerOPEN)
        #expect(chain.store.record(.validator(cheater.publicKey), as: ValidatorRecord.self)?.stake == 570 * OPEN.atomicUnitsPerOPEN)
        #expect(chain.supply == supplyBefore - 50 * OPEN.atomicUnitsPerOPEN)
        #expect(chain.circulating() == chain.supply)
    }

    /// Stake unstaked the height before a double-sign still voted at that height (a set changes
    /// two heights after the block that changes a stake): it is slashed, and the validator,
    /// though it left, stays jailed if it stakes again.
    @Test func stakeUnstakedTheHeightBeforeTheMisbehaviourIsSlashedAndTheJailLasts() throws {
        let chain = try TestChain(funded: [reporter, cheater], otherValidators: [.init(address: cheater.publicKey, power: 1_000)])
        let stake = 1_000 * OPEN.atomicUnitsPerOPEN
        let unstaked = try chain.commit([chain.sign(.unstake(amount: stake), by: cheater)]).block  // height 1
        #expect(try chain.store.validatorSet(forHeight: unstaked.header.height + 1).power(of: cheater.publicKey) == 1_000)
        try chain.commit([])  // height 2: the double-sign happens here, with the stake still voting
        try chain.commit([chain.sign(.evidence(conflicting(height: 2, by: cheater)), by: reporter)])
        let entry = try #require(chain.store.record(.unbonding(cheater.publicKey), as: Unbonding.self)?.entries.first)
        #expect(entry.amount == stake - stake / 20 && entry.releaseHeight == unstaked.header.height + 100_000 + 2)
        // Jailed with no stake left: the record stays, and staking again does not unjail it.
        let record: ValidatorRecord = try #require(chain.store.record(.validator(cheater.publicKey)))
        #expect(record.jailed && record.stake == 0)
        try chain.commit([chain.sign(.stake(amount: 200 * OPEN.atomicUnitsPerOPEN), by: cheater)])
        let restaked: ValidatorRecord = try #require(chain.store.record(.validator(cheater.publicKey)))
        #expect(restaked.jailed && restaked.power == 0)
        #expect(chain.circulating() == chain.supply)
    }

    /// Stake unstaked two heights before the misbehaviour no longer voted then: it is not slashed.
    @Test func stakeUnstakedBeforeItLastVotedIsNotSlashed() throws {
        let chain = try TestChain(funded: [reporter, cheater], otherValidators: [.init(address: cheater.publicKey, power: 1_000)])
        let part = 400 * OPEN.atomicUnitsPerOPEN
        try chain.commit([chain.sign(.unstake(amount: part), by: cheater)])  // height 1: out of the set from height 3
        try chain.commit([])
        try chain.commit([])  // height 3: the double-sign, by the stake still staked
        try chain.commit([chain.sign(.evidence(conflicting(height: 3, by: cheater)), by: reporter)])
        #expect(chain.store.record(.unbonding(cheater.publicKey), as: Unbonding.self)?.entries.first?.amount == part)
        #expect(chain.store.record(.validator(cheater.publicKey), as: ValidatorRecord.self)?.jailed == true)
    }

    /// The last validator with power can neither unstake all of it nor be jailed: the set would
    /// be empty, and the chain could never make another block.
    @Test func theLastValidatorStays() throws {
        let only = SigningKey()
        let chain = try TestChain(funded: [reporter, only], validator: only)
        let record: ValidatorRecord = try #require(chain.store.record(.validator(only.publicKey)))
        #expect(throws: TransactionRejection.lastValidator) { try chain.check(chain.sign(.unstake(amount: record.stake), by: only)) }
        try chain.commit([chain.sign(.unstake(amount: record.stake / 2), by: only)])  // keeping power is fine
        try chain.commit([chain.sign(.evidence(conflicting(height: 1, by: only)), by: reporter)])
        let slashed: ValidatorRecord = try #require(chain.store.record(.validator(only.publicKey)))
        #expect(!slashed.jailed && slashed.stake < record.stake / 2 && slashed.power > 0)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func evidenceIsAcceptedOncePerValidatorAndHeight() throws {
        let chain = try chain()
        try chain.commit([])
        try chain.commit([chain.sign(.evidence(conflicting(height: 1, by: cheater)), by: reporter)])
        #expect(throws: TransactionRejection.duplicateEvidence) {
            try chain.check(chain.sign(.evidence(conflicting(height: 1, by: cheater)), by: reporter))
        }
    }

    @Test func staleFutureAndForeignEvidenceIsRejected() throws {
        let chain = try chain(maxAge: 2)
        for _ in 0..<4 { try chain.commit([]) }
        // Next block is 5; with a window of 2 heights the oldest accepted is 3.
        #expect(throws: TransactionRejection.staleEvidence(height: 2, oldestAccepted: 3)) {
            try chain.check(chain.sign(.evidence(conflicting(height: 2, by: cheater)), by: reporter))
        }
        try chain.check(chain.sign(.evidence(conflicting(height: 3, by: cheater)), by: reporter))
        #expect(throws: TransactionRejection.self) {
            try chain.check(chain.sign(.evidence(conflicting(height: 5, by: cheater)), by: reporter))
        }
        let outsider = SigningKey()
        #expect(throws: TransactionRejection.invalidEvidence("\(outsider.publicKey) was not a validator at height 4")) {
            try chain.check(chain.sign(.evidence(conflicting(height: 4, by: outsider)), by: reporter))
        }
        #expect(throws: TransactionRejection.invalidEvidence("a vote signature does not verify")) {
            try chain.check(chain.sign(.evidence(conflicting(height: 4, by: cheater, chainID: "elsewhere")), by: reporter))
        }
    }

    @Test func onlyConflictingVotesInCanonicalOrderAreEvidence() throws {
        let vote = SignedVote(Vote(kind: .prevote, height: 1, round: 0, blockHash: nil), signedBy: cheater, chainID: TestChain.chainID)
        #expect(DuplicateVoteEvidence(vote, vote) == nil)
        let otherRound = SignedVote(Vote(kind: .prevote, height: 1, round: 1, blockHash: Digest.blake2b([1])), signedBy: cheater, chainID: TestChain.chainID)
        #expect(DuplicateVoteEvidence(vote, otherRound) == nil)
        // The same pair in the other order decodes, but is refused as non-canonical.
        let evidence = conflicting(height: 1, by: cheater)
        var writer = CanonicalWriter()
        writer.write(evidence.second)
        writer.write(evidence.first)
        let swapped = try DuplicateVoteEvidence(canonicalBytes: writer.bytes)
        #expect(swapped.defect(chainID: TestChain.chainID) == "the votes do not conflict or are not in canonical order")
    }
}
