import Crypto
import Foundation
import Ledger
import Payments
import Synchronization
import Testing

extension ClusterSuites {
    /// The facilitator routes of a real node process: verify and settle payments to its
    /// account on its chain, with the refusals the spec names and funds moving only once.
    @Suite struct X402FacilitatorTests {
        final class Chain: @unchecked Sendable {
            let directory = Tributary.temporaryDirectory("x402")
            let payer = SigningKey()
            let poor = SigningKey()
            let node: NodeProcess
            let provider: String

            init(fundProvider: Bool = true) throws {
                let home = directory + "/node"
                // The provider (the node's key) pays the settlement fees, so it holds some OPEN too.
                let validator = try Tributary.run(["keys", "new", "--out", directory + "/v.key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let initialized = try Tributary.run(["init", "--home", home, "--chain-id", "x402test", "--validator-key", directory + "/v.key",
                                                     "--fund", "\(validator)=\(fundProvider ? "1" : "0.000000001")", "--fund", "\(payer.publicKey.hex)=1", "--fund", "\(poor.publicKey.hex)=0.000001",
                                                     "--block-interval-ms", "20"])
                guard initialized.status == 0 else { throw HarnessError("init failed: \(initialized.stderr)") }
                node = try NodeProcess(home: home, port: Tributary.freePort())
                provider = try #require(try Self.json(HTTP.get(node.url + "/v1/status"))["validator"] as? String)
            }

            deinit {
                node.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }

            static func json(_ response: HTTP.Response) throws -> [String: Any] {
                try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
            }

            func offer(_ scheme: PaymentScheme, amount: UInt64, payTo: String? = nil) -> PaymentRequirements {
                var offer = PaymentRequirements(scheme: scheme, chainID: "x402test", amount: amount, payTo: PublicKey(hex: provider)!,
                                                maxTimeoutSeconds: 60, resource: node.url + "/v1/completions")
                if let payTo { offer.payTo = payTo }
                return offer
            }

            func body(_ payment: PaymentPayload, _ offer: PaymentRequirements, extra: [String: Any] = [:]) -> [String: Any] {
                ["x402Version": 2, "paymentPayload": payment.json, "paymentRequirements": offer.json].merging(extra) { $1 }
            }

            func post(_ route: String, _ body: [String: Any]) throws -> (status: Int, json: [String: Any]) {
                let response = try HTTP.post(node.url + route, json: body)
                return (response.status, try Self.json(response))
            }

            func balance(_ address: String) throws -> UInt64 {
                UInt64(try #require(try Self.json(HTTP.get(node.url + "/v1/accounts/" + address))["balance"] as? String))!
            }

            var now: UInt64 { UInt64(Date().timeIntervalSince1970) }
        }

        @Test func aProviderWithoutFeesCannotSettle() throws {
            let chain = try Chain(fundProvider: false)
            let offer = chain.offer(.exact, amount: 1_000)
            let payment = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            let settled = try chain.post("/x402/settle", chain.body(payment, offer))
            #expect(settled.json["success"] as? Bool == false && settled.json["errorReason"] as? String == "settlement_rejected")
            // The reservation ended with the refusal: the payment verifies again.
            let verified = try chain.post("/x402/verify", chain.body(payment, offer))
            #expect(verified.json["isValid"] as? Bool == true)
        }

        @Test func supportedListsBothSchemes() throws {
            let chain = try Chain()
            let supported = try Chain.json(HTTP.get(chain.node.url + "/x402/supported"))
            let kinds = try #require(supported["kinds"] as? [[String: Any]])
            #expect(kinds.map { $0["scheme"] as? String } == ["exact", "upto"])
            #expect(kinds.allSatisfy { $0["network"] as? String == "tributary:x402test" && $0["x402Version"] as? Int == 2 })
            #expect(try HTTP.send("DELETE", chain.node.url + "/x402/settle").status == 405)
        }

        @Test func exactPaymentSettlesOnceAndMovesFundsOnce() throws {
            let chain = try Chain()
            let offer = chain.offer(.exact, amount: 2_500_000)
            let payment = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            let (payerBefore, providerBefore) = (try chain.balance(chain.payer.publicKey.hex), try chain.balance(chain.provider))

            let verified = try chain.post("/x402/verify", chain.body(payment, offer))
            #expect(verified.status == 200 && verified.json["isValid"] as? Bool == true && verified.json["payer"] as? String == chain.payer.publicKey.hex)

            let settled = try chain.post("/x402/settle", chain.body(payment, offer))
            #expect(settled.status == 200 && settled.json["success"] as? Bool == true, "\(settled.json)")
            #expect(settled.json["amount"] as? String == "2500000" && settled.json["network"] as? String == "tributary:x402test")
            let hash = try #require(settled.json["transaction"] as? String)
            #expect((settled.json["height"] as? Int ?? 0) > 0)
            let transaction = try Chain.json(HTTP.get(chain.node.url + "/v1/txs/" + hash))
            #expect(transaction["status"] as? String == "committed" && transaction["type"] as? String == "settle_payment")
            #expect(try chain.balance(chain.payer.publicKey.hex) == payerBefore - 2_500_000)
            // The provider proposes every block here, so its fee comes back to it.
            #expect(try chain.balance(chain.provider) == providerBefore + 2_500_000)

            // The same payment again: refused by verify and by settle, and nothing moves.
            let replayVerified = try chain.post("/x402/verify", chain.body(payment, offer))
            #expect(replayVerified.json["isValid"] as? Bool == false && replayVerified.json["invalidReason"] as? String == "invalid_tributary_nonce_used")
            let replay = try chain.post("/x402/settle", chain.body(payment, offer))
            #expect(replay.json["success"] as? Bool == false && replay.json["errorReason"] as? String == "invalid_tributary_nonce_used")
            #expect(try chain.balance(chain.payer.publicKey.hex) == payerBefore - 2_500_000)
        }

        @Test func verifyAndSettleCommandsAreThinClients() throws {
            let chain = try Chain()
            let offer = chain.offer(.upto, amount: 50_000)
            let payment = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            let paymentFile = chain.directory + "/payment.txt", requirementsFile = chain.directory + "/offer.json"
            try Data(payment.headerValue.utf8).write(to: URL(fileURLWithPath: paymentFile))
            try X402JSON.data(offer.json).write(to: URL(fileURLWithPath: requirementsFile))
            let common = ["--node", chain.node.url, "--payment", paymentFile, "--requirements", requirementsFile]
            let verified = try Tributary.run(["x402", "verify"] + common)
            #expect(verified.status == 0 && verified.stdout.contains("\"isValid\":true"), "\(verified.stdout) \(verified.stderr)")
            let before = try chain.balance(chain.payer.publicKey.hex)
            let settled = try Tributary.run(["x402", "settle", "--amount", "1234"] + common)
            #expect(settled.status == 0 && settled.stdout.contains("\"amount\":\"1234\""), "\(settled.stdout) \(settled.stderr)")
            #expect(try chain.balance(chain.payer.publicKey.hex) == before - 1_234)
            let again = try Tributary.run(["x402", "settle"] + common)
            #expect(again.status != 0 && again.stderr.contains("invalid_tributary_nonce_used"))
        }

        @Test func concurrentSettlesOfOnePaymentPayOnce() throws {
            let chain = try Chain()
            let offer = chain.offer(.exact, amount: 1_000)
            let payment = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            let before = try chain.balance(chain.payer.publicKey.hex)
            let results = Mutex<[Bool]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                let answer = try? chain.post("/x402/settle", chain.body(payment, offer))
                results.withLock { $0.append(answer?.json["success"] as? Bool == true) }
            }
            #expect(results.withLock { $0.filter { $0 }.count } == 1)
            #expect(try chain.balance(chain.payer.publicKey.hex) == before - 1_000)
        }

        @Test func uptoChargesWhatTheSettlementNames() throws {
            let chain = try Chain()
            let offer = chain.offer(.upto, amount: 64_000)
            let payment = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            let before = try chain.balance(chain.payer.publicKey.hex)
            let over = try chain.post("/x402/settle", chain.body(payment, offer, extra: ["amount": "64001"]))
            #expect(over.json["success"] as? Bool == false && over.json["errorReason"] as? String == "invalid_tributary_authorization_mismatch")
            let settled = try chain.post("/x402/settle", chain.body(payment, offer, extra: ["amount": "9000"]))
            #expect(settled.json["success"] as? Bool == true && settled.json["amount"] as? String == "9000", "\(settled.json)")
            #expect(try chain.balance(chain.payer.publicKey.hex) == before - 9_000)
        }

        @Test func refusalsNameTheSpecsReasonsAndMoveNothing() throws {
            let chain = try Chain()
            let offer = chain.offer(.exact, amount: 5_000)
            let payerBefore = try chain.balance(chain.payer.publicKey.hex)
            func reason(_ payment: PaymentPayload, _ offer: PaymentRequirements, route: String = "/x402/verify") throws -> String? {
                let answer = try chain.post(route, chain.body(payment, offer))
                return answer.json[route == "/x402/verify" ? "invalidReason" : "errorReason"] as? String
            }
            // Funds: the poor account holds 1,000 atomic units.
            let poor = try #require(PaymentPayload(paying: offer, with: chain.poor, now: chain.now))
            #expect(try reason(poor, offer) == "insufficient_funds")
            // Expired and not yet valid windows.
            var expired = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now - 120))
            #expect(try reason(expired, offer) == "invalid_tributary_expired")
            expired.authorization.validBefore += 1
            #expect(try reason(expired, offer) == "invalid_tributary_expired")  // rule 3 before rule 4
            let early = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now + 120))
            #expect(try reason(early, offer) == "invalid_tributary_not_yet_valid")
            // A payment to someone else cannot be settled by this node.
            let elsewhere = chain.offer(.exact, amount: 5_000, payTo: SigningKey().publicKey.hex)
            let other = try #require(PaymentPayload(paying: elsewhere, with: chain.payer, now: chain.now))
            #expect(try reason(other, elsewhere, route: "/x402/settle") == "invalid_payment_requirements")
            // Another resource than the offer's.
            var resource = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            resource.authorization.resource += "?other"
            resource.signature = resource.authorization.signed(by: chain.payer)
            #expect(try reason(resource, offer, route: "/x402/settle") == "invalid_tributary_authorization_mismatch")
            // A forged signature.
            var forged = try #require(PaymentPayload(paying: offer, with: chain.payer, now: chain.now))
            forged.signature = chain.poor.sign(forged.authorization.signingBytes)
            #expect(try reason(forged, offer, route: "/x402/settle") == "invalid_tributary_signature")
            // Malformed bodies are 400 with a JSON error, never 500.
            var body = chain.body(forged, offer)
            body["paymentPayload"] = ["x402Version": 2]
            for bad in [body, ["x402Version": 1], ["x402Version": 2, "paymentPayload": forged.json]] as [[String: Any]] {
                let answer = try chain.post("/x402/settle", bad)
                #expect(answer.status == 400 && answer.json["error"] as? String == "malformed_payment")
            }
            let garbage = try HTTP.send("POST", chain.node.url + "/x402/verify", body: Data("{not json".utf8), contentType: "application/json")
            #expect(garbage.status == 400)
            #expect(try chain.balance(chain.payer.publicKey.hex) == payerBefore)
        }
    }
}
