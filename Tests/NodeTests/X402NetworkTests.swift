import Crypto
import Foundation
import Ledger
import Payments
import Synchronization
import Testing

extension ClusterSuites {
    /// x402 settlement on the 4-validator network: a (payer, nonce) pays once across every
    /// node, whichever nodes the authorization or its settlement reach.
    @Suite struct X402NetworkTests {
        @Test func aPaymentIsConsumedOnceAcrossTheNetwork() throws {
            let payer = SigningKey()
            let cluster = try Cluster(testnetArguments: ["--fund", "\(payer.publicKey.hex)=10"])
            let chainID = try #require(try cluster.status(0)["chain_id"] as? String)
            let provider = try KeyFile.read(from: cluster.home(0) + "/validator.key")
            let offer = PaymentRequirements(scheme: .exact, chainID: chainID, amount: 3_000_000, payTo: provider.publicKey,
                                            maxTimeoutSeconds: 60, resource: cluster.url(0) + "/v1/completions")
            let payment = try #require(PaymentPayload(paying: offer, with: payer, now: UInt64(Date().timeIntervalSince1970)))
            let body: [String: Any] = ["x402Version": 2, "paymentPayload": payment.json, "paymentRequirements": offer.json]
            func balance(_ node: Int, _ address: Address) throws -> UInt64 {
                UInt64(try #require(try HTTP.get("\(cluster.url(node))/v1/accounts/\(address.hex)").json["balance"] as? String))!
            }
            let payerBefore = try balance(0, payer.publicKey)

            // Any node's facilitator finds it valid before settlement; only the payee's settles it.
            for node in 0..<4 { #expect(try HTTP.post(cluster.url(node) + "/x402/verify", json: body).json["isValid"] as? Bool == true) }
            #expect(try HTTP.post(cluster.url(1) + "/x402/settle", json: body).json["errorReason"] as? String == "invalid_payment_requirements")

            // The provider spreads two settlements of the same authorization through two nodes at
            // once (two account nonces): one commits, the other is refused at execution.
            let settlement = PaymentSettlement(authorization: payment.authorization, signature: payment.signature, charged: 3_000_000)
            let nonce = UInt64(try #require(try HTTP.get("\(cluster.url(0))/v1/accounts/\(provider.publicKey.hex)").json["nonce"] as? Int))
            let twins = [nonce, nonce + 1].map {
                Transaction(sender: provider.publicKey, nonce: $0, fee: 1_000, body: .settlePayment(settlement)).signed(by: provider, chainID: chainID)
            }
            try cluster.submit(twins[0], via: 0)
            try cluster.submit(twins[1], via: 2)
            var statuses: [String] = []
            try cluster.waitUntil("both settlements to finish", timeoutSeconds: 30) {
                statuses = try twins.map { try HTTP.get("\(cluster.url(3))/v1/txs/\($0.hash.hex)").json["status"] as? String ?? "" }
                return !statuses.contains("pending") && !statuses.contains("")
            }
            #expect(statuses.filter { $0 == "committed" }.count == 1, "\(statuses)")

            // Every node now refuses the authorization, and the payer paid once.
            let height = try cluster.height(3)
            for node in 0..<4 {
                try cluster.waitUntil("node \(node) to reach height \(height)", timeoutSeconds: 20) { try cluster.height(node) >= height }
                let verified = try HTTP.post(cluster.url(node) + "/x402/verify", json: body).json
                #expect(verified["isValid"] as? Bool == false && verified["invalidReason"] as? String == "invalid_tributary_nonce_used")
                #expect(try balance(node, payer.publicKey) == payerBefore - 3_000_000)
                let supply = try HTTP.get(cluster.url(node) + "/v1/supply").json
                #expect(supply["supply"] as? String == supply["circulating"] as? String)
            }
            let again = try HTTP.post(cluster.url(0) + "/x402/settle", json: body).json
            #expect(again["success"] as? Bool == false && again["errorReason"] as? String == "invalid_tributary_nonce_used")
        }

        /// A settlement the chain cannot commit for now (two of four validators down) is not
        /// answered as failed once the commit wait (`x402_commit_wait_ms`) ends, since it can
        /// still commit: validators check its window at the time of the block that proposed
        /// it, however late that block commits. It is answered as pending, and the payer,
        /// served, pays once the chain moves again.
        @Test func aStalledSettlementIsAnsweredAsPendingAndCommitsLater() throws {
            let payer = SigningKey()
            let cluster = try Cluster(settings: ["x402_commit_wait_ms": 2_000], testnetArguments: ["--fund", "\(payer.publicKey.hex)=10"])
            let chainID = try #require(try cluster.status(0)["chain_id"] as? String)
            let provider = try KeyFile.read(from: cluster.home(0) + "/validator.key")
            let offer = PaymentRequirements(scheme: .exact, chainID: chainID, amount: 3_000_000, payTo: provider.publicKey,
                                            maxTimeoutSeconds: 60, resource: cluster.url(0) + "/v1/completions")
            let payment = try #require(PaymentPayload(paying: offer, with: payer, now: UInt64(Date().timeIntervalSince1970)))
            func balance() throws -> UInt64 {
                UInt64(try #require(try HTTP.get("\(cluster.url(0))/v1/accounts/\(payer.publicKey.hex)").json["balance"] as? String))!
            }
            let before = try balance()
            cluster.kill(2)
            cluster.kill(3)
            let settled = try HTTP.post(cluster.url(0) + "/x402/settle", json: ["x402Version": 2, "paymentPayload": payment.json, "paymentRequirements": offer.json]).json
            #expect(settled["success"] as? Bool == true && settled["settlement_pending"] as? Bool == true && settled["height"] == nil, "\(settled)")
            let transaction = try #require(settled["transaction"] as? String)
            #expect(try HTTP.get("\(cluster.url(0))/v1/txs/\(transaction)").json["status"] as? String == "pending")

            try cluster.start(2)
            try cluster.start(3)
            try cluster.waitUntil("the settlement to commit", timeoutSeconds: 60) {
                try HTTP.get("\(cluster.url(0))/v1/txs/\(transaction)").json["status"] as? String == "committed"
            }
            #expect(try balance() == before - 3_000_000)
        }
    }
}
