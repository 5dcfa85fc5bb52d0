import Crypto
import Foundation
import Ledger
import Payments
import Testing

extension ClusterSuites {
    /// Paid adapter answers on the 4-validator network, end to end: a provider (a full node
    /// serving the default model) hosts an adapter registered on chain with a datanet of two
    /// contributors. A client pays with each scheme; every balance moves exactly as the
    /// genesis royalty rules say, the attribution transactions pay each contributor their
    /// weight's share of the escrow, an escrow without attribution waits on chain, bad
    /// payments move nothing, and the supply is conserved on every node.
    @Suite struct X402RoyaltyNetworkTests {
        static let pricePerToken: UInt64 = 2_000

        @Test(.timeLimit(.minutes(8))) func paidAdapterAnswersPayEveryPartyByTheRules() throws {
            let keys = Tributary.temporaryDirectory("royalty-keys")
            defer { try? FileManager.default.removeItem(atPath: keys) }
            func newKey(_ name: String) throws -> Address {
                let printed = try Tributary.run(["keys", "new", "--out", "\(keys)/\(name).key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                return try #require(PublicKey(hex: printed))
            }
            let owner = try newKey("owner"), alice = try newKey("alice"), bob = try newKey("bob"), provider = try newKey("provider")
            let payer = SigningKey(), poor = SigningKey()
            let cluster = try Cluster(testnetArguments: ["--fund", "\(payer.publicKey.hex)=10"] + [owner, alice, bob, provider].flatMap { ["--fund", "\($0.hex)=1000"] })

            // The datanet on chain: three facts from alice, three from bob.
            let created = try Tributary.run(["datanet", "create", "--key", keys + "/owner.key", "--name", "facts", "--node", cluster.url(0)])
            try #require(created.status == 0, "\(created.stderr)")
            let datanet = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let facts = try String(contentsOfFile: AttributeTests.facts, encoding: .utf8).split(separator: "\n")
                .map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["text"] as! String }
            var contributorOf: [String: Address] = [:], datanetFile = ""
            for (index, text) in facts.enumerated() {
                let contributor = index % 2 == 0 ? alice : bob
                contributorOf[Digest.blake2b(Array(text.utf8)).hex] = contributor
                datanetFile += try ClusterSuites.DatanetTests.jsonLine(["text": text, "contributor": contributor.hex]) + "\n"
            }
            for (name, parity) in [("alice", 0), ("bob", 1)] {
                let lines = facts.enumerated().filter { $0.offset % 2 == parity }.map { try! ClusterSuites.DatanetTests.jsonLine(["text": $0.element]) }
                try lines.joined(separator: "\n").write(toFile: "\(keys)/\(name).jsonl", atomically: true, encoding: .utf8)
                let added = try Tributary.run(["datanet", "add", "--datanet", datanet, "--key", "\(keys)/\(name).key", "--jsonl", "\(keys)/\(name).jsonl", "--node", cluster.url(1)])
                try #require(added.status == 0, "\(added.stderr)")
            }

            // The adapter with its attribution index over that datanet, and a copy without an index.
            let adapter = keys + "/facts", plain = keys + "/plain"
            let fixture = URL(fileURLWithPath: AttributeTests.facts).deletingLastPathComponent().appendingPathComponent("adapters/qv-r8").path
            try FileManager.default.copyItem(atPath: fixture, toPath: adapter)
            try datanetFile.write(toFile: keys + "/facts.jsonl", atomically: true, encoding: .utf8)
            let indexed = try Tributary.run(["attribute", "index", "--adapter", adapter, "--datanet", keys + "/facts.jsonl", "--threads", "1"])
            try #require(indexed.status == 0, "\(indexed.stderr)")
            try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: adapter + "/adapter_config.json", toPath: plain + "/adapter_config.json")
            var weights = [UInt8](try Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_model.safetensors")))
            weights[weights.count - 2] ^= 0x01
            try Data(weights).write(to: URL(fileURLWithPath: plain + "/adapter_model.safetensors"))

            // The provider: a full node (not a validator) serving the model, base price 1000.
            let node = try cluster.addFullNode(peers: [0, 1], key: keys + "/provider.key",
                                               arguments: ["--serve-model", "--inference-threads", "2", "--price-per-token", "1000"])
            let url = cluster.url(node)
            var adapterIDs: [String: String] = [:]
            for path in [adapter, plain] {
                let hosted = try Tributary.run(["adapter", "add", path, "--node", url, "--json"])
                try #require(hosted.status == 0, "\(hosted.stderr)")
                let answer = try JSONSerialization.jsonObject(with: Data(hosted.stdout.utf8)) as! [String: Any]
                adapterIDs[(path as NSString).lastPathComponent] = answer["id"] as? String
            }
            let baseModel = "d63af87b96e2fd6551e9e7320602f3934f34c41a91004117dd24981571d02f79"  // the default model's pinned BLAKE2b-256
            for (name, id) in adapterIDs {
                let registered = try Tributary.run(["tx", "register-adapter", "--key", keys + "/owner.key", "--adapter-hash", id, "--base-model-hash", baseModel,
                                                    "--datanet", datanet, "--name", name, "--price-per-token", "0.000002", "--node", cluster.url(0)])
                try #require(registered.status == 0, "\(registered.stderr)")
            }
            try cluster.waitUntil("the provider to see both adapters", timeoutSeconds: 30) {
                try adapterIDs.values.allSatisfy { try HTTP.get("\(url)/v1/adapters/\($0)").status == 200 }
            }

            let parameters = try HTTP.get(url + "/v1/parameters").json
            let royalties = try #require(parameters["royalties"] as? [String: Any])
            let rules = RoyaltyRules(adapterOwnerBasisPoints: UInt64(royalties["adapter_owner_basis_points"] as! Int), protocolBasisPoints: UInt64(royalties["protocol_basis_points"] as! Int),
                                     contributorsBasisPoints: UInt64(royalties["contributors_basis_points"] as! Int), escrowHeights: UInt64(royalties["escrow_heights"] as! Int))
            let minFee = UInt64(try #require(parameters["min_fee"] as? String))!
            let validators = try (0..<4).map { try KeyFile.read(from: cluster.home($0) + "/validator.key").publicKey }
            func balance(_ address: Address) throws -> UInt64 {
                UInt64(try #require(try HTTP.get("\(url)/v1/accounts/\(address.hex)").json["balance"] as? String))!
            }
            func balances() throws -> [Address: UInt64] {
                var all: [Address: UInt64] = [:]
                for address in [payer.publicKey, poor.publicKey, owner, alice, bob, provider] + validators { all[address] = try balance(address) }
                return all
            }
            func complete(_ model: String, maxTokens: Int, attribution: Bool = false, payment: String? = nil, extraHeaders: [String: String] = [:]) throws -> HTTP.Response {
                var headers = extraHeaders
                if let payment { headers[X402.paymentSignatureHeader] = payment }
                let body: [String: Any] = ["model": model, "prompt": "The capital of the island of Varnholm is", "max_tokens": maxTokens, "temperature": 0, "attribution": attribution]
                return try HTTP.send("POST", url + "/v1/completions", body: try JSONSerialization.data(withJSONObject: body), contentType: "application/json", headers: headers, timeoutSeconds: 90)
            }
            func offers(_ response: HTTP.Response) throws -> PaymentRequired {
                try PaymentRequired(json: X402JSON.object(headerValue: try #require(response.headers[X402.paymentRequiredHeader.lowercased()])))
            }
            func receipt(_ response: HTTP.Response) throws -> [String: Any] {
                try X402JSON.object(headerValue: try #require(response.headers[X402.paymentResponseHeader.lowercased()]))
            }
            let now = { UInt64(Date().timeIntervalSince1970) }
            let before = try balances()

            // 1. exact, attribution asked: the answer carries the proof the release names.
            let quote = try offers(try complete("facts", maxTokens: 6))
            let exactOffer = quote.accepts[0]
            #expect(exactOffer.amount == String(6 * Self.pricePerToken))
            let exactPayment = try #require(PaymentPayload(paying: exactOffer, with: payer, now: now())).headerValue
            let exact = try complete("facts", maxTokens: 6, attribution: true, payment: exactPayment)
            try #require(exact.status == 200, "\(String(decoding: exact.body, as: UTF8.self))")
            let exactReceipt = try receipt(exact)
            let proofID = try #require((exact.json["attribution"] as? [String: Any])?["proof_id"] as? String)
            #expect((exact.json["attribution"] as? [String: Any])?["base_model"] as? String == baseModel)

            // 2. upto, attribution not asked: the node attributes it anyway, off the answer's path.
            let uptoOffer = try offers(try complete("facts", maxTokens: 8)).accepts[1]
            let upto = try complete("facts", maxTokens: 8, payment: try #require(PaymentPayload(paying: uptoOffer, with: payer, now: now())).headerValue)
            try #require(upto.status == 200)
            let uptoReceipt = try receipt(upto)
            let generated = try #require((upto.json["usage"] as? [String: Any])?["completion_tokens"] as? Int)
            #expect(uptoReceipt["amount"] as? String == String(UInt64(generated) * Self.pricePerToken))

            // 3. exact on the adapter without an index: its escrow waits on chain.
            let plainOffer = try offers(try complete("plain", maxTokens: 4)).accepts[0]
            let unattributed = try complete("plain", maxTokens: 4, payment: try #require(PaymentPayload(paying: plainOffer, with: payer, now: now())).headerValue)
            try #require(unattributed.status == 200)
            let plainReceipt = try receipt(unattributed)

            // Bad payments: the spec's status and reason, nothing moves.
            func tampered(_ edit: (inout PaymentAuthorization) -> Void, key: SigningKey? = nil) throws -> String {
                var payment = try #require(PaymentPayload(paying: exactOffer, with: key ?? payer, now: now()))
                edit(&payment.authorization)
                payment.signature = (key ?? payer).sign(payment.authorization.signingBytes)
                return payment.headerValue
            }
            let refusals: [(String, String)] = [
                (exactPayment, "invalid_tributary_nonce_used"),
                (try tampered { $0.validAfter = now() - 120; $0.validBefore = now() - 60 }, "invalid_tributary_expired"),
                (try tampered { $0.to = payer.publicKey.hex }, "invalid_tributary_authorization_mismatch"),
                (try tampered { $0.network = "tributary:elsewhere" }, "invalid_tributary_authorization_mismatch"),
                (try tampered { $0.asset = "USDC" }, "invalid_tributary_authorization_mismatch"),
                (try tampered { $0.resource = url + "/v1/chat/completions" }, "invalid_tributary_authorization_mismatch"),
                (try tampered { $0.amount += 1 }, "invalid_tributary_authorization_mismatch"),
                (try tampered({ $0.from = poor.publicKey }, key: poor), "insufficient_funds"),
            ]
            for (header, reason) in refusals {
                let refused = try complete("facts", maxTokens: 6, payment: header)
                #expect(refused.status == 402 && (try? offers(refused).error) == reason, "\(reason): \(refused.status) \(String(decoding: refused.body, as: UTF8.self))")
            }
            #expect(try complete("facts", maxTokens: 6, payment: "e30").status == 400)  // "{}": not a payment
            #expect(try complete("facts", maxTokens: 6, payment: String(repeating: "A", count: X402.headerBytesMax + 4)).status == 400)

            // Both attributed escrows are released; the third waits.
            let settlements = [exactReceipt, uptoReceipt, plainReceipt].map { $0["transaction"] as! String }
            try cluster.waitUntil("both attributed escrows to be released", timeoutSeconds: 120) {
                try settlements.prefix(2).allSatisfy { try HTTP.get("\(url)/v1/escrows/\($0)").status == 404 }
            }
            let releases = try attributionTransactions(at: url, after: exactReceipt["height"] as! Int, for: Array(settlements.prefix(2)))
            #expect(releases[0]["proof"] as? String == proofID)
            #expect(try HTTP.get("\(url)/v1/attributions/\(releases[1]["proof"] as! String)").status == 200)

            // The balances, by the rules.
            let charges = [exactReceipt, uptoReceipt, plainReceipt].map { UInt64($0["amount"] as! String)! }
            let splits = charges.map { rules.split($0, hasAdapter: true, hasDatanets: true) }
            var expected = before
            expected[payer.publicKey]! -= charges.reduce(0, +)
            expected[provider]! += splits.reduce(0) { $0 + $1.provider } - 5 * minFee  // three settlements, two releases
            expected[owner]! += splits.reduce(0) { $0 + $1.adapterOwner }
            for (release, split) in zip(releases, splits) {
                let shares = (release["shares"] as! [[String: String]]).map { AttributionRelease.Share(document: Digest(hex: $0["document"]!)!, weight: UInt64($0["weight"]!)!) }
                let named = AttributionRelease(settlement: Digest(hex: release["settlement"] as! String)!, proof: Digest(hex: release["proof"] as! String)!, shares: shares)
                #expect(named.defect == nil)  // weights positive, adding up to exactly one
                // The rule's arithmetic (floors, remainder to the largest weight) is RoyaltyTests'; here, that the chain paid by it.
                for (share, amount) in zip(shares, named.payouts(of: split.contributors)) { expected[try #require(contributorOf[share.document.hex])]! += amount }
            }
            let after = try balances()
            for address in [payer.publicKey, poor.publicKey, owner, alice, bob, provider] {
                #expect(after[address] == expected[address], "\(address == payer.publicKey ? "payer" : address == provider ? "provider" : address == owner ? "owner" : address.hex)")
            }
            // The validators share the protocol's parts by power, and the five fees.
            let validatorGain = validators.reduce(0) { $0 + after[$1]! - before[$1]! }
            #expect(validatorGain == splits.reduce(0) { $0 + $1.protocol } + 5 * minFee)
            let escrow = try HTTP.get("\(url)/v1/escrows/\(settlements[2])").json
            #expect(escrow["amount"] as? String == String(splits[2].contributors) && escrow["provider"] as? String == provider.hex && escrow["adapter"] as? String == adapterIDs["plain"])
            for index in 0..<4 {
                let supply = try HTTP.get(cluster.url(index) + "/v1/supply").json
                #expect(supply["supply"] as? String == supply["circulating"] as? String)
            }
        }

        /// The committed `attribution` transactions releasing `settlements`, in that order,
        /// found in the blocks from `height` on.
        func attributionTransactions(at url: String, after height: Int, for settlements: [String]) throws -> [[String: Any]] {
            var found: [String: [String: Any]] = [:]
            let latest = try HTTP.get(url + "/v1/blocks/latest").json
            let top = try #require((latest["header"] as? [String: Any])?["height"] as? Int)
            for level in height...top {
                let transactions = try HTTP.get("\(url)/v1/blocks/\(level)").json["transactions"] as? [[String: Any]] ?? []
                for transaction in transactions where transaction["type"] as? String == "attribution" {
                    if let settlement = transaction["settlement"] as? String { found[settlement] = transaction }
                }
            }
            return try settlements.map { try #require(found[$0], "no attribution transaction for settlement \($0)") }
        }
    }
}
