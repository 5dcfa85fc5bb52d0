import Crypto
import Foundation
import Ledger
import Testing

/// Settled payments shared out by the genesis `RoyaltyRules` on a real chain: the provider,
/// the adapter's owner, the validators by power, the contributors' escrow released by an
/// `attribution` transaction or expired to the validators — and the supply conserved at
/// every step.
@Suite struct RoyaltyTests {
    let payer = SigningKey(), provider = SigningKey(), owner = SigningKey()
    let alice = SigningKey(), bob = SigningKey(), minor = SigningKey()
    let rules = RoyaltyRules(adapterOwnerBasisPoints: 1_000, protocolBasisPoints: 700, contributorsBasisPoints: 2_500, escrowHeights: 5)
    let adapterID = Digest.blake2b(Array("adapter".utf8))
    let aliceDocument = Digest.blake2b(Array("alice's note".utf8)), bobDocument = Digest.blake2b(Array("bob's note".utf8))

    /// A chain with a second validator of a third of the main one's power, a datanet with one
    /// document each from alice and bob, and the owner's adapter trained on it.
    func chain() throws -> TestChain {
        let chain = try TestChain(funded: [payer, provider, owner, alice, bob], otherValidators: [.init(address: minor.publicKey, power: 500_000)], royalties: rules)
        try chain.commit([chain.sign(.registerDatanet(name: "notes", description: ""), by: owner)])
        let datanet = DatanetID.derive(creator: owner.publicKey, nonce: 0)
        try chain.commit([
            chain.sign(.contribute(datanet: datanet, contentHash: aliceDocument, sizeBytes: 12), by: alice),
            chain.sign(.contribute(datanet: datanet, contentHash: bobDocument, sizeBytes: 10), by: bob),
            chain.sign(.registerAdapter(adapterHash: adapterID, baseModelHash: Digest.blake2b([1]), datanets: [datanet], name: "notes", pricePerToken: 1_000), by: owner),
        ])
        #expect(chain.circulating() == chain.supply)
        return chain
    }

    func settlement(_ chain: TestChain, charged: UInt64, adapter: Digest?, nonce: UInt64? = nil) -> SignedTransaction {
        let a = PaymentAuthorization(
            scheme: "upto", network: PaymentAuthorization.network(chainID: TestChain.chainID), from: payer.publicKey,
            to: provider.publicKey.hex, asset: PaymentAuthorization.asset, amount: charged, validAfter: TestChain.genesisTime,
            validBefore: TestChain.genesisTime + 600, nonce: Bytes32(secureRandomBytes(32))!, resource: "http://127.0.0.1/v1/completions")
        let body = PaymentSettlement(authorization: a, signature: payer.sign(a.signingBytes), charged: charged, adapter: adapter)
        return chain.sign(.settlePayment(body), by: provider, nonce: nonce)
    }

    func release(_ chain: TestChain, _ settlement: Digest, _ shares: [AttributionRelease.Share], by key: SigningKey? = nil) -> SignedTransaction {
        chain.sign(.attribution(AttributionRelease(settlement: settlement, proof: Digest.blake2b([7]), shares: shares)), by: key ?? provider)
    }

    func balances(_ chain: TestChain) -> [UInt64] { [payer, provider, owner, alice, bob, chain.validator, minor].map(chain.balance) }

    @Test func anAdapterAnswerIsSharedByTheRules() throws {
        let chain = try chain()
        let before = balances(chain)
        let charged: UInt64 = 1_000_003
        let settle = settlement(chain, charged: charged, adapter: adapterID)
        let (_, rejected) = try chain.commit([settle])
        #expect(rejected.isEmpty)
        let split = rules.split(charged, hasAdapter: true, hasDatanets: true)
        #expect(split == RoyaltySplit(provider: 580_003, adapterOwner: 100_000, protocol: 70_000, contributors: 250_000))
        let after = balances(chain)
        #expect(after[0] == before[0] - charged)
        #expect(after[1] == before[1] + split.provider - TestChain.minFee)
        #expect(after[2] == before[2] + split.adapterOwner)
        // Power 1,000,000 : 500,000 — the proposer (the main validator) also takes the fee and the remainder.
        #expect(after[5] == before[5] + 46_666 + 1 + TestChain.minFee)
        #expect(after[6] == before[6] + 23_333)
        #expect(chain.store.record(.royaltyEscrow(settlement: settle.hash), as: RoyaltyEscrow.self)
            == RoyaltyEscrow(provider: provider.publicKey, adapter: adapterID, amount: 250_000, expiryHeight: chain.store.status!.height + 5))
        #expect(chain.circulating() == chain.supply)
    }

    @Test func theAttributionPaysEachContributorTheirWeight() throws {
        let chain = try chain()
        let settle = settlement(chain, charged: 1_000_000, adapter: adapterID)
        try chain.commit([settle])
        let before = balances(chain)
        let third = AttributionRelease.weightTotal / 3  // alice ⅓ (rounded down), bob the rest
        let shares = [AttributionRelease.Share(document: aliceDocument, weight: third), .init(document: bobDocument, weight: AttributionRelease.weightTotal - third)]
            .sorted { $0.document < $1.document }
        let (_, rejected) = try chain.commit([release(chain, settle.hash, shares)])
        #expect(rejected.isEmpty)
        let after = balances(chain)
        #expect(after[3] == before[3] + 83_333)
        #expect(after[4] == before[4] + 166_667)  // the largest weight takes the remainder
        #expect(after[1] == before[1] - TestChain.minFee)
        #expect(chain.store.value(for: .royaltyEscrow(settlement: settle.hash)) == nil)
        #expect(chain.store.keys(of: .royaltyExpiry, limit: 10).isEmpty)
        #expect(chain.circulating() == chain.supply)
        // Released once: a second release finds no escrow.
        #expect(code(chain, release(chain, settle.hash, shares)) == "unknown_escrow")
    }

    @Test func attributionsAreCheckedBeforeAnythingMoves() throws {
        let chain = try chain()
        let settle = settlement(chain, charged: 1_000_000, adapter: adapterID)
        try chain.commit([settle])
        let whole = AttributionRelease.weightTotal, half = whole / 2
        let valid = [AttributionRelease.Share(document: aliceDocument, weight: half), .init(document: bobDocument, weight: half)].sorted { $0.document < $1.document }
        #expect(code(chain, release(chain, settle.hash, valid)) == nil)
        #expect(code(chain, release(chain, settle.hash, valid, by: owner)) == "not_escrow_provider")
        #expect(code(chain, release(chain, Digest.blake2b([9]), valid)) == "unknown_escrow")
        let stranger = Digest.blake2b(Array("not in the datanet".utf8))
        #expect(code(chain, release(chain, settle.hash, [.init(document: stranger, weight: whole)])) == "invalid_attribution")
        #expect(code(chain, release(chain, settle.hash, [.init(document: aliceDocument, weight: whole - 1)])) == "invalid_attribution")
        #expect(code(chain, release(chain, settle.hash, valid.reversed())) == "invalid_attribution")
        #expect(code(chain, release(chain, settle.hash, [.init(document: aliceDocument, weight: whole), .init(document: bobDocument, weight: 0)].sorted { $0.document < $1.document })) == "invalid_attribution")
        #expect(code(chain, release(chain, settle.hash, [])) == "invalid_attribution")
    }

    @Test func anUnreleasedEscrowGoesToTheValidatorsAtItsExpiry() throws {
        let chain = try chain()
        let settle = settlement(chain, charged: 1_000_000, adapter: adapterID)
        let (block, _) = try chain.commit([settle])
        let expiry = block.header.height + rules.escrowHeights
        while chain.store.status!.height < expiry - 1 { try chain.commit([]) }
        let before = balances(chain)
        #expect(chain.store.value(for: .royaltyEscrow(settlement: settle.hash)) != nil)
        try chain.commit([])  // the block at the expiry height pays it out before its transactions
        let after = balances(chain)
        #expect(after[5] == before[5] + 166_667 && after[6] == before[6] + 83_333)
        #expect(chain.store.value(for: .royaltyEscrow(settlement: settle.hash)) == nil)
        #expect(code(chain, release(chain, settle.hash, [.init(document: aliceDocument, weight: AttributionRelease.weightTotal)])) == "unknown_escrow")
        #expect(chain.circulating() == chain.supply)
    }

    /// More escrows than a block pays out expire at one height: the ones left over are paid a
    /// block later, and cannot be released in between — an escrow expires at its height.
    @Test func anEscrowLeftOverAtItsExpiryCannotBeReleased() throws {
        let chain = try chain()
        let count = RoyaltyEscrow.expiriesPerBlockMax + 1, first = chain.store.account(provider.publicKey).nonce
        let settles = (0..<count).map { settlement(chain, charged: 1_000, adapter: adapterID, nonce: first + UInt64($0)) }
        let (block, rejected) = try chain.commit(settles)
        #expect(rejected.isEmpty)
        let expiry = block.header.height + rules.escrowHeights
        while chain.store.status!.height < expiry { try chain.commit([]) }
        let left = settles.map(\.hash).filter { chain.store.value(for: .royaltyEscrow(settlement: $0)) != nil }
        #expect(left.count == 1)
        let whole = [AttributionRelease.Share(document: aliceDocument, weight: AttributionRelease.weightTotal)]
        #expect(code(chain, release(chain, left[0], whole)) == "unknown_escrow")
        try chain.commit([])
        #expect(chain.store.value(for: .royaltyEscrow(settlement: left[0])) == nil)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func sharesWithNobodyToReceiveThemStayWithTheProvider() throws {
        let chain = try chain()
        try chain.commit([chain.sign(.registerAdapter(adapterHash: Digest.blake2b([2]), baseModelHash: Digest.blake2b([1]), datanets: [], name: "bare", pricePerToken: 0), by: owner)])
        let before = balances(chain)
        let (_, rejected) = try chain.commit([settlement(chain, charged: 10_000, adapter: nil, nonce: 0), settlement(chain, charged: 10_000, adapter: Digest.blake2b([2]), nonce: 1)])
        #expect(rejected.isEmpty)
        // Base model: 93 % to the provider; bare adapter: 10 % to its owner, 83 % to the provider.
        #expect(balances(chain)[1] == before[1] + 9_300 + 8_300 - 2 * TestChain.minFee)
        #expect(balances(chain)[2] == before[2] + 1_000)
        #expect(chain.store.keys(of: .royaltyEscrow, limit: 10).isEmpty)
        #expect(code(chain, settlement(chain, charged: 10, adapter: Digest.blake2b([3]))) == "unknown_adapter")
        #expect(chain.circulating() == chain.supply)
    }

    /// The largest attribution a transaction may carry fits a signed transaction, with the
    /// largest nonce and fee, so peers take it as gossip like any other.
    @Test func theLargestAttributionFitsATransaction() throws {
        let count = AttributionRelease.sharesMax
        let documents = (0..<count).map { Digest.blake2b(Array("document \($0)".utf8)) }.sorted()
        let weights = (0..<count).map { $0 == 0 ? AttributionRelease.weightTotal - UInt64(count - 1) : 1 }
        let release = AttributionRelease(settlement: Digest.blake2b([1]), proof: Digest.blake2b([2]),
                                         shares: zip(documents, weights).map { .init(document: $0, weight: $1) })
        #expect(release.defect == nil)
        let signed = Transaction(sender: provider.publicKey, nonce: .max, fee: .max, body: .attribution(release)).signed(by: provider, chainID: TestChain.chainID)
        #expect(signed.canonicalBytes.count <= SignedTransaction.maxBytes)
        let read = try SignedTransaction(canonicalBytes: signed.canonicalBytes, maxBytes: SignedTransaction.maxBytes)
        #expect(read == signed)
    }

    @Test func splitsAndPayoutsAddUpForAnyAmount() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let charged = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...63, using: &generator)
            let owner = UInt64.random(in: 0...10_000), network = UInt64.random(in: 0...(10_000 - owner))
            let rules = RoyaltyRules(adapterOwnerBasisPoints: owner, protocolBasisPoints: network, contributorsBasisPoints: UInt64.random(in: 0...(10_000 - owner - network)), escrowHeights: 1)
            let split = rules.split(charged, hasAdapter: true, hasDatanets: true)
            #expect(split.provider &+ split.adapterOwner &+ split.protocol &+ split.contributors == charged && split.provider <= charged)
            var left = AttributionRelease.weightTotal, shares: [AttributionRelease.Share] = []
            for index in 0..<Int.random(in: 1...20) where left > 1 {
                let weight = UInt64.random(in: 1..<left)
                shares.append(.init(document: Digest.blake2b([UInt8(index)]), weight: weight))
                left -= weight
            }
            shares.append(.init(document: Digest.blake2b([99]), weight: left))
            let release = AttributionRelease(settlement: Digest.blake2b([0]), proof: Digest.blake2b([1]), shares: shares.sorted { $0.document < $1.document })
            #expect(release.defect == nil)
            #expect(release.payouts(of: charged).reduce(0, +) == charged)
            let set = ValidatorSet([.init(address: SigningKey().publicKey, power: .random(in: 1...1_000_000)), .init(address: SigningKey().publicKey, power: .random(in: 1...1_000_000))])
            #expect(set.payouts(of: charged, remainderTo: SigningKey().publicKey).reduce(0) { $0 + $1.1 } == charged)
        }
    }

    @Test func genesisRulesAreCheckedAndRoundTrip() throws {
        var genesis = try chain().genesis
        #expect(try Genesis(json: genesis.json) == genesis)
        genesis.parameters.royalties.contributorsBasisPoints = 9_000
        #expect(throws: GenesisError.self) { try genesis.validated() }
        genesis.parameters.royalties = RoyaltyRules(adapterOwnerBasisPoints: 0, protocolBasisPoints: 0, contributorsBasisPoints: 0, escrowHeights: 0)
        #expect(throws: GenesisError.self) { try genesis.validated() }
    }

    private func code(_ chain: TestChain, _ transaction: SignedTransaction) -> String? {
        do { try chain.check(transaction) } catch { return error.code }
        return nil
    }
}
