import Crypto
import Foundation
import Ledger
import Payments
import Testing

/// Paid completions on a real node serving the default model at a price: 402 with both
/// offers, then answers paid by `exact` and `upto` with their receipts, the payer charged
/// as the offers say, a replay refused, free routes free.
@Suite(.serialized) struct X402ServingTests {
    static let price: UInt64 = 1_000

    final class PricedNode: @unchecked Sendable {
        let directory = Tributary.temporaryDirectory("x402-serving")
        let payer = SigningKey()
        let node: NodeProcess

        init(settlement: String = "commit", promptPrice: UInt64 = 0) throws {
            let home = directory + "/n0"
            let validator = try Tributary.run(["keys", "new", "--out", directory + "/n0.key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let initialized = try Tributary.run(["init", "--home", home, "--chain-id", "paid", "--validator-key", directory + "/n0.key",
                                                 "--fund", "\(validator)=1", "--fund", "\(payer.publicKey.hex)=1", "--block-interval-ms", "20"])
            guard initialized.status == 0 else { throw HarnessError(initialized.stderr) }
            node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: [
                "--serve-model", "--inference-threads", "2", "--price-per-token", String(X402ServingTests.price), "--x402-settlement", settlement,
                "--price-per-prompt-token", String(promptPrice),
            ])
        }

        deinit {
            node.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func complete(maxTokens: Int = 8, stream: Bool = false, payment: String? = nil) throws -> HTTP.Response {
            let body: [String: Any] = ["model": ServingTests.model, "prompt": "The capital of France is", "max_tokens": maxTokens, "temperature": 0, "stream": stream]
            return try HTTP.send("POST", node.url + "/v1/completions", body: try JSONSerialization.data(withJSONObject: body),
                                 contentType: "application/json", headers: payment.map { [X402.paymentSignatureHeader: $0] } ?? [:], timeoutSeconds: 60)
        }

        func offers(_ response: HTTP.Response) throws -> PaymentRequired {
            let header = try #require(response.headers[X402.paymentRequiredHeader.lowercased()])
            return try PaymentRequired(json: X402JSON.object(headerValue: header))
        }

        func balance() throws -> UInt64 {
            UInt64(try #require(try HTTP.get(node.url + "/v1/accounts/" + payer.publicKey.hex).json["balance"] as? String))!
        }

        func pay(_ offer: PaymentRequirements) throws -> String {
            try #require(PaymentPayload(paying: offer, with: payer, now: UInt64(Date().timeIntervalSince1970))).headerValue
        }
    }

    @Test func unpaidRequestsGetTheOffersAndPaidOnesTheirAnswer() throws {
        let priced = try PricedNode()
        #expect(try HTTP.get(priced.node.url + "/v1/models").status == 200)  // free routes stay free

        let unpaid = try priced.complete()
        #expect(unpaid.status == 402)
        #expect(unpaid.headers["access-control-expose-headers"]?.contains(X402.paymentResponseHeader) == true)
        let required = try priced.offers(unpaid)
        #expect(required.resource == priced.node.url + "/v1/completions")
        #expect(required.accepts.map(\.scheme) == ["exact", "upto"])
        #expect(required.accepts.allSatisfy { $0.amount == "8000" && $0.network == "tributary:paid" && $0.asset == "OPEN" && $0.resource == required.resource })
        #expect(required.accepts[1].pricePerToken == "1000" && required.accepts[1].pricePerPromptToken == nil)

        // exact: the whole price, the answer and the receipt in one exchange.
        var before = try priced.balance()
        let exactPayment = try priced.pay(required.accepts[0])
        let paid = try priced.complete(payment: exactPayment)
        #expect(paid.status == 200, "\(String(decoding: paid.body, as: UTF8.self))")
        #expect((paid.json["choices"] as? [[String: Any]])?.first?["text"] as? String != nil)
        let receipt = try X402JSON.object(headerValue: try #require(paid.headers[X402.paymentResponseHeader.lowercased()]))
        #expect(receipt["success"] as? Bool == true && receipt["amount"] as? String == "8000" && (receipt["height"] as? Int ?? 0) > 0)
        #expect(try priced.balance() == before - 8_000)

        // The same payment again: 402, nothing charged.
        let replay = try priced.complete(payment: exactPayment)
        #expect(replay.status == 402)
        #expect(try priced.offers(replay).error == "invalid_tributary_nonce_used")
        #expect(try priced.balance() == before - 8_000)

        // upto: charged for the tokens generated.
        before = try priced.balance()
        let upto = try priced.complete(maxTokens: 8, payment: try priced.pay(required.accepts[1]))
        #expect(upto.status == 200)
        let generated = try #require((upto.json["usage"] as? [String: Any])?["completion_tokens"] as? Int)
        let uptoReceipt = try X402JSON.object(headerValue: try #require(upto.headers[X402.paymentResponseHeader.lowercased()]))
        #expect(uptoReceipt["amount"] as? String == String(UInt64(generated) * X402ServingTests.price))
        #expect(try priced.balance() == before - UInt64(generated) * X402ServingTests.price)

        // A malformed header is a 400, not a 402 or a 500; so is a request the node would not
        // serve, before any price is quoted for it.
        #expect(try priced.complete(payment: "not base64!").status == 400)
        #expect(try priced.complete(maxTokens: 5_000).status == 400)
    }

    /// With prompt tokens priced, the `upto` offer states that price too, and the charge is
    /// what the two prices say.
    @Test func promptTokensAreChargedAtTheStatedPrice() throws {
        let priced = try PricedNode(promptPrice: 300)
        let required = try priced.offers(try priced.complete(maxTokens: 4))
        let upto = required.accepts[1]
        #expect(upto.pricePerToken == "1000" && upto.pricePerPromptToken == "300" && required.accepts[0].pricePerPromptToken == nil)
        let before = try priced.balance()
        let paid = try priced.complete(maxTokens: 4, payment: try priced.pay(upto))
        #expect(paid.status == 200)
        let usage = try #require(paid.json["usage"] as? [String: Any])
        let (prompt, generated) = (try #require(usage["prompt_tokens"] as? Int), try #require(usage["completion_tokens"] as? Int))
        #expect(UInt64(upto.amount) == 4 * 1_000 + UInt64(prompt) * 300)
        let charged = UInt64(generated) * 1_000 + UInt64(prompt) * 300
        let receipt = try X402JSON.object(headerValue: try #require(paid.headers[X402.paymentResponseHeader.lowercased()]))
        #expect(receipt["amount"] as? String == String(charged))
        #expect(try priced.balance() == before - charged)
    }

    @Test func payCommandFollowsThe402WithinBudget() throws {
        let priced = try PricedNode()
        let keyFile = priced.directory + "/payer.key"
        try KeyFile.write(priced.payer, to: keyFile)
        let body = "{\"model\": \"\(ServingTests.model)\", \"prompt\": \"Hello\", \"max_tokens\": 4, \"temperature\": 0}"
        let url = priced.node.url + "/v1/completions"
        let before = try priced.balance()
        // 4 tokens at 1000 each: 4000 atomic units = 0.000004 OPEN.
        let tooPoor = try Tributary.run(["x402", "pay", "--key", keyFile, "--max-amount", "0.000003", "-X", "POST", "-d", body, url])
        #expect(tooPoor.status != 0 && tooPoor.stderr.contains("above --max-amount"), "\(tooPoor.stderr)")
        let paid = try Tributary.run(["x402", "pay", "--key", keyFile, "--max-amount", "0.000004", "--scheme", "exact", "-X", "POST", "-d", body, "--json", url])
        #expect(paid.status == 0, "\(paid.stderr)")
        let printed = try #require(try JSONSerialization.jsonObject(with: Data(paid.stdout.utf8)) as? [String: Any])
        #expect(printed["status"] as? Int == 200 && (printed["offer"] as? [String: Any])?["scheme"] as? String == "exact")
        let receipt = try #require(printed["receipt"] as? [String: Any])
        #expect(receipt["success"] as? Bool == true && receipt["amount"] as? String == "4000")
        #expect(((printed["body"] as? [String: Any])?["choices"] as? [Any])?.count == 1)
        #expect(try priced.balance() == before - 4_000)
    }

    /// A client that leaves a paid answer, streamed or whole, cancels its generation; its upto
    /// payment is then charged for the tokens generated, fewer than it asked for.
    @Test(arguments: [true, false]) func aClientThatLeavesPaysUptoForWhatWasGenerated(stream: Bool) throws {
        let priced = try PricedNode()
        // This prompt's greedy answer counts on past 400 tokens (no end of sequence), so only
        // the cancellation can stop it short.
        let body = try JSONSerialization.data(withJSONObject: [
            "model": ServingTests.model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 400, "temperature": 0, "stream": stream,
        ])
        let quote = try HTTP.send("POST", priced.node.url + "/v1/completions", body: body, contentType: "application/json")
        let required = try priced.offers(quote)
        let before = try priced.balance()
        let port = UInt16(priced.node.url.split(separator: ":").last!)!
        let client = try HostileClient(port: port)
        client.sendPost("/v1/completions", json: body, headers: [X402.paymentSignatureHeader: try priced.pay(required.accepts[1])])
        if stream {
            _ = try #require(client.receive(600, timeoutSeconds: 30), "no streamed answer")  // headers and the first chunks
        } else {
            // The batch counts a sequence once its first step, which samples a token, is done.
            let deadline = Date().addingTimeInterval(30)
            while try ServingTests.sequencesRunning(priced.node) == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }
        client.reset()
        var after = before
        let deadline = Date().addingTimeInterval(30)
        while after == before, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            after = try priced.balance()
        }
        let charged = before - after
        #expect(charged > 0 && charged < 400 * X402ServingTests.price && charged % X402ServingTests.price == 0, "charged \(charged)")
    }

    @Test func aPaidStreamEndsWithItsReceipt() throws {
        let priced = try PricedNode(settlement: "pending")
        let required = try priced.offers(try priced.complete(stream: true))
        let before = try priced.balance()
        let streamed = try priced.complete(stream: true, payment: try priced.pay(required.accepts[1]))
        #expect(streamed.status == 200)
        let events = ServingTests.events(streamed.body)
        #expect(events.last == "[DONE]")
        let last = try #require(try JSONSerialization.jsonObject(with: Data(events[events.count - 2].utf8)) as? [String: Any])
        let receipt = try #require(last["payment_response"] as? [String: Any])
        #expect(receipt["success"] as? Bool == true && receipt["settlement_pending"] as? Bool == true)
        let charged = try #require(UInt64(receipt["amount"] as? String ?? ""))
        #expect(charged > 0 && charged <= 8_000 && charged % X402ServingTests.price == 0)
        // Pending mode answered before the commit; the charge lands with the next blocks.
        let hash = try #require(receipt["transaction"] as? String)
        let deadline = Date().addingTimeInterval(20)
        while try HTTP.get(priced.node.url + "/v1/txs/" + hash).json["status"] as? String != "committed", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(try priced.balance() == before - charged)
    }

    /// The x402 Python SDK from PyPI (`scripts/x402/venv.sh`), with a scheme plugin written
    /// from the spec (`scripts/x402/tributary_scheme.py`), pays the node through `requests`
    /// (exact) and `httpx` (upto) and gets 200 with a successful receipt each time.
    @Test func thePythonSDKPaysTheNode() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = Process()
        venv.executableURL = URL(fileURLWithPath: "/bin/bash")
        venv.arguments = [root.appendingPathComponent("scripts/x402/venv.sh").path]
        let venvOutput = Pipe()
        venv.standardOutput = venvOutput
        try venv.run()
        let python = String(decoding: venvOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        venv.waitUntilExit()
        try #require(venv.terminationStatus == 0, "scripts/x402/venv.sh failed: the x402 SDK could not be installed from PyPI")

        let priced = try PricedNode()
        let before = try priced.balance()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: python)
        client.currentDirectoryURL = root.appendingPathComponent("scripts/x402")
        client.arguments = ["sdk_pays_a_node.py", priced.node.url + "/v1/completions", Hex.encode(priced.payer.seed), "tributary:paid", ServingTests.model]
        let output = Pipe(), errors = Pipe()
        client.standardOutput = output
        client.standardError = errors
        try client.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(client.terminationStatus == 0, "\(printed)\n\(stderr)")
        let answers = printed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(answers.map { $0["client"] as? String } == ["requests", "httpx"])
        var charged: UInt64 = 0
        for answer in answers {
            let receipt = try #require(answer["receipt"] as? [String: Any])
            #expect(answer["status"] as? Int == 200 && receipt["success"] as? Bool == true)
            charged += UInt64(receipt["amount"] as? String ?? "") ?? 0
        }
        let after = try priced.balance()
        #expect(charged > 0 && after == before - charged)
    }
}
