import Crypto
import Ledger
import Payments
import Testing

/// The six rules, each failing alone, and their order when several fail.
@Suite struct VerificationTests {
    let payee = SigningKey().publicKey
    let payer = SigningKey()
    let now: UInt64 = 1_795_000_000
    let resource = "http://127.0.0.1:8545/v1/completions"

    var offers: [PaymentRequirements] {
        [PaymentRequirements(scheme: .exact, chainID: "devnet", amount: 2_500_000, payTo: payee, maxTimeoutSeconds: 60, resource: resource),
         PaymentRequirements(scheme: .upto, chainID: "devnet", amount: 64_000_000, payTo: payee, maxTimeoutSeconds: 60, resource: resource, pricePerToken: 1_000_000)]
    }

    func payment(_ offer: Int = 0, edit: (inout PaymentAuthorization) -> Void = { _ in }, signer: SigningKey? = nil) -> PaymentPayload {
        var payment = PaymentPayload(paying: offers[offer], with: payer, now: now)!
        edit(&payment.authorization)
        payment.signature = (signer ?? payer).sign(payment.authorization.signingBytes)
        return payment
    }

    func verify(_ payment: PaymentPayload, at time: UInt64? = nil, balance: UInt64 = 100_000_000, settled: Bool = false,
                reservations: PaymentReservations = PaymentReservations()) -> PaymentVerdict {
        PaymentVerifier.verify(payment, offers: offers, now: time ?? now, reservations: reservations) { address, _ in
            #expect(address == payer.publicKey)
            return PayerStanding(balance: balance, nonceSettled: settled)
        }
    }

    @Test func bothSchemesVerify() {
        #expect(verify(payment(0)) == .valid(offer: offers[0]))
        #expect(verify(payment(1)) == .valid(offer: offers[1]))
    }

    @Test func rule1AcceptedMustBeACurrentOffer() {
        let edits: [(inout PaymentRequirements) -> Void] = [
            { $0.amount = "2500001" }, { $0.payTo = SigningKey().publicKey.hex }, { $0.scheme = "stream" },
            { $0.network = "tributary:mainnet" }, { $0.asset = "USDC" }, { $0.maxTimeoutSeconds = 61 },
        ]
        for edit in edits {
            var paid = payment()
            edit(&paid.accepted)
            #expect(verify(paid) == .invalid(.invalidPaymentRequirements))
        }
    }

    @Test func rule2AuthorizationMustAnswerTheOffer() {
        let edits: [(inout PaymentAuthorization) -> Void] = [
            { $0.to = SigningKey().publicKey.hex }, { $0.resource = "http://127.0.0.1:8545/v1/chat/completions" },
            { $0.network = "tributary:mainnet" }, { $0.asset = "open" }, { $0.scheme = "upto" }, { $0.amount -= 1 }, { $0.amount += 1 },
        ]
        for edit in edits {
            let paid = payment(0, edit: edit)
            #expect(verify(paid) == .invalid(.authorizationMismatch))
        }
        // For upto, the authorized amount is the cap itself, not less.
        let under = payment(1) { $0.amount = 1_000_000 }
        #expect(verify(under) == .invalid(.authorizationMismatch))
        // A payee paying itself: the chain would refuse the settlement, so verification does.
        let selfPaying = SigningKey()
        let own = PaymentRequirements(scheme: .exact, chainID: "devnet", amount: 2_500_000, payTo: selfPaying.publicKey, maxTimeoutSeconds: 60, resource: resource)
        let paidToSelf = PaymentPayload(paying: own, with: selfPaying, now: now)!
        let verdict = PaymentVerifier.verify(paidToSelf, offers: [own], now: now, reservations: PaymentReservations()) { _, _ in
            PayerStanding(balance: 100_000_000, nonceSettled: false)
        }
        #expect(verdict == .invalid(.authorizationMismatch))
    }

    @Test func rule3Window() {
        let paid = payment()  // valid from now to now + 60
        #expect(verify(paid, at: now - 1) == .invalid(.notYetValid))
        #expect(verify(paid, at: now + 54) == .valid(offer: offers[0]))
        #expect(verify(paid, at: now + 55) == .invalid(.expired))
        #expect(verify(paid, at: now + 600) == .invalid(.expired))
        let longest = payment { $0.validBefore = $0.validAfter + 120 }, tooLong = payment { $0.validBefore = $0.validAfter + 121 }
        #expect(verify(longest) == .valid(offer: offers[0]))
        #expect(verify(tooLong) == .invalid(.expired))
        let early = payment { $0.validBefore = 3 }, tiny = payment { $0.validAfter = 0; $0.validBefore = 4 }
        #expect(verify(early, at: 0) == .invalid(.notYetValid))
        #expect(verify(tiny, at: 0) == .invalid(.expired))
    }

    @Test func rule4Signature() {
        #expect(verify(payment(signer: SigningKey())) == .invalid(.signature))
        var paid = payment()
        paid.authorization.validBefore -= 1
        #expect(verify(paid) == .invalid(.signature))
    }

    @Test func rule5NonceOnce() {
        let paid = payment()
        #expect(verify(paid, settled: true) == .invalid(.nonceUsed))
        var pending = PaymentReservations()
        let reserved1 = pending.reserve(payer: payer.publicKey, nonce: paid.authorization.nonce, amount: 1)
        #expect(reserved1)
        #expect(verify(paid, reservations: pending) == .invalid(.nonceUsed))
        pending.release(payer: payer.publicKey, nonce: paid.authorization.nonce)
        #expect(verify(paid, reservations: pending) == .valid(offer: offers[0]))
    }

    @Test func rule6FundsBeyondPendingReservations() {
        let exact = payment(0), upto = payment(1)
        #expect(verify(exact, balance: 2_500_000) == .valid(offer: offers[0]))
        #expect(verify(exact, balance: 2_499_999) == .invalid(.insufficientFunds))
        // upto needs its cap.
        #expect(verify(upto, balance: 63_999_999) == .invalid(.insufficientFunds))
        var pending = PaymentReservations()
        let reserved2 = pending.reserve(payer: payer.publicKey, nonce: Bytes32(secureRandomBytes(32))!, amount: 1)
        #expect(reserved2)
        #expect(verify(exact, balance: 2_500_000, reservations: pending) == .invalid(.insufficientFunds))
        #expect(verify(exact, balance: 2_500_001, reservations: pending) == .valid(offer: offers[0]))
        // Another payer's reservations do not count.
        var others = PaymentReservations()
        let reserved3 = others.reserve(payer: SigningKey().publicKey, nonce: exact.authorization.nonce, amount: 99)
        #expect(reserved3)
        #expect(verify(exact, balance: 2_500_000, reservations: others) == .valid(offer: offers[0]))
        var huge = PaymentReservations()
        let reserved4 = huge.reserve(payer: payer.publicKey, nonce: Bytes32(secureRandomBytes(32))!, amount: UInt64.max)
        #expect(reserved4)
        #expect(verify(exact, balance: UInt64.max, reservations: huge) == .invalid(.insufficientFunds))
    }

    @Test func theFirstFailingRuleNamesTheReason() {
        // Bad signature, settled nonce and no funds: rule 4 speaks.
        #expect(verify(payment(signer: SigningKey()), balance: 0, settled: true) == .invalid(.signature))
        // Expired and badly signed: rule 3.
        #expect(verify(payment(signer: SigningKey()), at: now + 1000) == .invalid(.expired))
        // Mismatched and expired: rule 2.
        let mismatched = payment { $0.amount += 1 }
        #expect(verify(mismatched, at: now + 1000) == .invalid(.authorizationMismatch))
        // Not an offer and mismatched: rule 1.
        var paid = payment { $0.amount += 1 }
        paid.accepted.amount = "1"
        #expect(verify(paid) == .invalid(.invalidPaymentRequirements))
    }

    @Test func reservationsKeepTotalsPerPayer() {
        var book = PaymentReservations()
        let a = SigningKey().publicKey, b = SigningKey().publicKey
        let n1 = Bytes32(secureRandomBytes(32))!, n2 = Bytes32(secureRandomBytes(32))!
        let reserved5 = book.reserve(payer: a, nonce: n1, amount: 5)
        #expect(reserved5)
        let reserved6 = book.reserve(payer: a, nonce: n2, amount: 7)
        #expect(reserved6)
        let reserved7 = book.reserve(payer: a, nonce: n1, amount: 1)
        #expect(!reserved7)
        let reserved8 = book.reserve(payer: b, nonce: n1, amount: 3)
        #expect(reserved8)
        let reserved9 = book.reserve(payer: a, nonce: Bytes32(secureRandomBytes(32))!, amount: UInt64.max)
        #expect(!reserved9)
        #expect(book.reserved(by: a) == 12 && book.reserved(by: b) == 3 && book.count == 3)
        book.release(payer: a, nonce: n1)
        book.release(payer: a, nonce: n1)
        #expect(book.reserved(by: a) == 7 && !book.isPending(payer: a, nonce: n1) && book.isPending(payer: a, nonce: n2))
        book.release(payer: a, nonce: n2)
        book.release(payer: b, nonce: n1)
        #expect(book == PaymentReservations())
    }
}
