import Crypto
import Ledger
import Testing

/// `settlePayment` transactions on a real chain: rules 2–6 at execution, (payer, nonce)
/// consumed once, expired nonces pruned, the supply conserved.
@Suite struct PaymentSettlementTests {
    let payer = SigningKey()
    let provider = SigningKey()
    let start = TestChain.genesisTime  // the first block is at start + 1 s

    func authorization(_ scheme: PaymentScheme = .exact, amount: UInt64 = 2_500_000, to payee: Address? = nil,
                       validAfter: UInt64? = nil, window: UInt64 = 60, nonce: Bytes32? = nil) -> PaymentAuthorization {
        let after = validAfter ?? start
        return PaymentAuthorization(
            scheme: scheme.rawValue, network: PaymentAuthorization.network(chainID: TestChain.chainID), from: payer.publicKey,
            to: (payee ?? provider.publicKey).hex, asset: PaymentAuthorization.asset, amount: amount, validAfter: after,
            validBefore: after + window, nonce: nonce ?? Bytes32(secureRandomBytes(32))!, resource: "http://127.0.0.1:8545/v1/completions")
    }

    func settle(_ chain: TestChain, _ a: PaymentAuthorization, charged: UInt64? = nil, by sender: SigningKey? = nil,
                signer: SigningKey? = nil, nonce: UInt64? = nil) -> SignedTransaction {
        let settlement = PaymentSettlement(authorization: a, signature: (signer ?? payer).sign(a.signingBytes), charged: charged ?? a.amount)
        return chain.sign(.settlePayment(settlement), by: sender ?? provider, nonce: nonce)
    }

    func reason(_ chain: TestChain, _ transaction: SignedTransaction, atTimeMs time: UInt64? = nil) -> String? {
        do { try chain.check(transaction, atTimeMs: time) } catch { return error.code }
        return nil
    }

    @Test func exactSettlementPaysTheProviderOnce() throws {
        let chain = try TestChain(funded: [payer, provider])
        let (payerBefore, providerBefore) = (chain.balance(payer), chain.balance(provider))
        let a = authorization()
        let (block, rejected) = try chain.commit([settle(chain, a)])
        #expect(rejected.isEmpty && block.transactions.count == 1)
        #expect(chain.balance(payer) == payerBefore - 2_500_000)
        // A base-model answer: the provider keeps all but the protocol's share (RoyaltyTests has the rest).
        let protocolShare = 2_500_000 * RoyaltyRules.standard.protocolBasisPoints / 10_000
        #expect(chain.balance(provider) == providerBefore + 2_500_000 - protocolShare - TestChain.minFee)
        #expect(chain.store.account(payer.publicKey).nonce == 0)
        #expect(chain.store.record(.paymentNonce(payer: payer.publicKey, nonce: a.nonce), as: PaymentNonceRecord.self)
            == PaymentNonceRecord(validBefore: a.validBefore, settledHeight: block.header.height))
        #expect(chain.circulating() == chain.supply)
        // The same authorization again, in a later block: refused, nothing moves.
        #expect(reason(chain, settle(chain, a)) == "invalid_tributary_nonce_used")
    }

    @Test func theSameNonceInOneBlockPaysOnce() throws {
        let chain = try TestChain(funded: [payer, provider])
        let a = authorization()
        let first = settle(chain, a, nonce: 0), second = settle(chain, a, nonce: 1)
        let (block, rejected) = try chain.commit([first, second])
        #expect(block.transactions == [first])
        #expect(rejected.map(\.reason.code) == ["invalid_tributary_nonce_used"])
        #expect(chain.circulating() == chain.supply)
    }

    @Test func uptoChargesAtMostTheCap() throws {
        let chain = try TestChain(funded: [payer, provider])
        let before = chain.balance(payer)
        let over = authorization(.upto, amount: 64_000)
        #expect(reason(chain, settle(chain, over, charged: 64_001)) == "invalid_tributary_authorization_mismatch")
        let (_, rejected) = try chain.commit([settle(chain, authorization(.upto, amount: 64_000), charged: 9_000)])
        #expect(rejected.isEmpty)
        #expect(chain.balance(payer) == before - 9_000)
        #expect(reason(chain, settle(chain, authorization(.exact, amount: 10), charged: 9)) == "invalid_tributary_authorization_mismatch")
        #expect(reason(chain, settle(chain, authorization(.exact, amount: 0), charged: 0)) == "zero_amount")
    }

    /// An `upto` answer that cost nothing is settled for zero: its nonce is spent, nothing but
    /// the provider's fee moves.
    @Test func uptoSettlesAZeroCharge() throws {
        let chain = try TestChain(funded: [payer, provider])
        let (payerBefore, providerBefore) = (chain.balance(payer), chain.balance(provider))
        let a = authorization(.upto, amount: 64_000)
        let (block, rejected) = try chain.commit([settle(chain, a, charged: 0)])
        #expect(rejected.isEmpty && block.transactions.count == 1)
        #expect(chain.balance(payer) == payerBefore)
        #expect(chain.balance(provider) == providerBefore - TestChain.minFee)
        #expect(chain.store.record(.paymentNonce(payer: payer.publicKey, nonce: a.nonce), as: PaymentNonceRecord.self) != nil)
        #expect(reason(chain, settle(chain, a, charged: 1)) == "invalid_tributary_nonce_used")
        #expect(chain.circulating() == chain.supply)
    }

    @Test func theAuthorizationMustNameThisChainOpenAndTheSender() throws {
        let chain = try TestChain(funded: [payer, provider])
        var edits: [(inout PaymentAuthorization) -> Void] = [
            { $0.network = "tributary:mainnet" }, { $0.asset = "USDC" }, { $0.scheme = "stream" }, { $0.to = $0.to.uppercased() },
        ]
        edits.append { $0.to = SigningKey().publicKey.hex }
        for edit in edits {
            var a = authorization()
            edit(&a)
            #expect(reason(chain, settle(chain, a)) == "invalid_tributary_authorization_mismatch")
        }
        // The payer cannot settle to itself.
        let own = authorization(to: payer.publicKey)
        #expect(reason(chain, settle(chain, own, by: payer)) == "invalid_tributary_authorization_mismatch")
    }

    @Test func theWindowIsCheckedAtTheBlocksTime() throws {
        let chain = try TestChain(funded: [payer, provider])
        let a = authorization(validAfter: start + 10)  // open from start + 10 to start + 65
        #expect(reason(chain, settle(chain, a), atTimeMs: (start + 9) * 1000) == "invalid_tributary_not_yet_valid")
        #expect(reason(chain, settle(chain, a), atTimeMs: (start + 10) * 1000) == nil)
        #expect(reason(chain, settle(chain, a), atTimeMs: (start + 64) * 1000 + 999) == nil)
        #expect(reason(chain, settle(chain, a), atTimeMs: (start + 65) * 1000) == "invalid_tributary_expired")
        let long = authorization(window: PaymentSettlement.windowSecondsMax + 1)
        #expect(reason(chain, settle(chain, long)) == "invalid_tributary_expired")
    }

    @Test func signatureAndFundsAreTheRulesLast() throws {
        let poor = SigningKey()
        let chain = try TestChain(funded: [payer, provider], vesting: [
            .init(address: poor.publicKey, schedule: VestingSchedule(amount: 10_000_000, startTime: TestChain.genesisTime, cliffSeconds: 1_000_000, durationSeconds: 2_000_000)),
        ])
        #expect(reason(chain, settle(chain, authorization(), signer: SigningKey())) == "invalid_tributary_signature")
        let rich = authorization(amount: chain.balance(payer) + 1)
        #expect(reason(chain, settle(chain, rich)) == "insufficient_funds")
        // Funds locked by vesting cannot pay either.
        var locked = authorization()
        locked.from = poor.publicKey
        #expect(reason(chain, settle(chain, locked, signer: poor)) == "insufficient_funds")
        #expect(reason(chain, settle(chain, authorization(amount: chain.balance(payer)))) == nil)
    }

    @Test func expiredNoncesArePrunedAndStayUnusable() throws {
        let chain = try TestChain(funded: [payer, provider])
        let short = authorization(window: 30), long = authorization(window: 90)
        let (first, rejected) = try chain.commit([settle(chain, short, nonce: 0), settle(chain, long, nonce: 1)])
        #expect(rejected.isEmpty)
        let expiries = chain.store.keys(of: .paymentExpiry, limit: 10)
        #expect(expiries == [.paymentExpiry(validBefore: short.validBefore, payer: payer.publicKey, nonce: short.nonce),
                             .paymentExpiry(validBefore: long.validBefore, payer: payer.publicKey, nonce: long.nonce)])
        // A block at the short window's validBefore forgets it, and only it; the block checks
        // out on verification too (pruning is part of every block's execution).
        let executed = chain.execution.propose([], timeMs: short.validBefore * 1000, proposer: chain.validator.publicKey)
        #expect(try chain.execution.verify(executed.candidate).tree.rootHash == executed.header.appHash)
        #expect(executed.stateWrites[.paymentNonce(payer: payer.publicKey, nonce: short.nonce)] == .some(nil))
        try chain.commit([], timeMs: short.validBefore * 1000)
        #expect(chain.store.value(for: .paymentNonce(payer: payer.publicKey, nonce: short.nonce)) == nil)
        #expect(chain.store.keys(of: .paymentExpiry, limit: 10) == [.paymentExpiry(validBefore: long.validBefore, payer: payer.publicKey, nonce: long.nonce)])
        // Replaying the pruned authorization fails on its window, not on a forgotten nonce.
        #expect(reason(chain, settle(chain, short)) == "invalid_tributary_expired")
        #expect(first.header.height + 1 == chain.store.status!.height)
        #expect(chain.circulating() == chain.supply)
    }

    @Test func settlementsRoundTripTheirEncoding() throws {
        let chain = try TestChain(funded: [payer, provider])
        let signed = settle(chain, authorization(.upto, amount: 77), charged: 5)
        #expect(try SignedTransaction(canonicalBytes: signed.canonicalBytes) == signed)
        #expect(signed.transaction.body.kind == "settle_payment")
        let a = authorization()
        let named = PaymentSettlement(authorization: a, signature: payer.sign(a.signingBytes), charged: a.amount, adapter: Digest.blake2b([1]))
        #expect(try PaymentSettlement(canonicalBytes: named.canonicalBytes) == named)
        for key in [StateKey.paymentNonce(payer: payer.publicKey, nonce: Bytes32(secureRandomBytes(32))!),
                    .paymentExpiry(validBefore: 1_800_000_060, payer: payer.publicKey, nonce: Bytes32(secureRandomBytes(32))!)] {
            #expect(StateKey(bytes: key.bytes) == key)
            #expect(key.bytes.count <= StateKey.bytesMax)
        }
    }
}
