import Crypto
import Foundation
import Ledger
import Payments
import Testing

@Suite struct HeaderCodecTests {
    let payee = SigningKey().publicKey
    let payer = SigningKey()

    var offer: PaymentRequirements {
        PaymentRequirements(scheme: .upto, chainID: "devnet", amount: 64_000, payTo: payee, maxTimeoutSeconds: 60,
                            resource: "http://127.0.0.1:8545/v1/completions", pricePerToken: 1000, pricePerPromptToken: 250)
    }

    @Test func paymentRoundTripsThroughItsHeader() throws {
        let payment = try #require(PaymentPayload(paying: offer, with: payer, now: 1_795_000_000))
        let header = payment.headerValue
        #expect(Data(base64Encoded: header) != nil && header.count % 4 == 0)
        let read = try PaymentPayload(headerValue: header)
        #expect(read == payment)
        #expect(read.authorization.isSigned(by: read.signature))
        #expect(read.accepted.pricePerToken == "1000" && read.accepted.pricePerPromptToken == "250")
        #expect((read.accepted.json["extra"] as? [String: Any])?["pricePerPromptToken"] as? String == "250")
    }

    @Test func paymentRequiredRoundTrips() throws {
        let required = PaymentRequired(resource: "http://h/v1/completions", description: "completion", accepts: [offer], error: "payment required")
        let read = try PaymentRequired(json: X402JSON.object(headerValue: required.headerValue))
        #expect(read == required)
    }

    @Test func headerEncodingIsRefusedUnlessStandardPaddedBase64() throws {
        let payment = try #require(PaymentPayload(paying: offer, with: payer, now: 1_795_000_000))
        let json = X402JSON.data(payment.json)
        let padded = json.base64EncodedString()
        let unpadded = padded.replacingOccurrences(of: "=", with: "")
        let urlSafe = padded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let wrapped = json.base64EncodedString(options: .lineLength64Characters)
        for bad in [unpadded, " " + padded, wrapped, "!!!!", "e30"] where bad != padded {
            #expect(throws: X402Malformed.self) { try PaymentPayload(headerValue: bad) }
        }
        // URL-safe text differs only when the standard text has + or /.
        if urlSafe != padded { #expect(throws: X402Malformed.self) { try PaymentPayload(headerValue: urlSafe) } }
        #expect(try PaymentPayload(headerValue: padded) == payment)
    }

    @Test func oversizeHeadersAreRefused() {
        let big: [String: Any] = ["x402Version": 2, "pad": String(repeating: "a", count: 6200)]
        let header = X402JSON.headerValue(big)
        #expect(header.utf8.count > X402.headerBytesMax)
        #expect(throws: X402Malformed.self) { try X402JSON.object(headerValue: header) }
        let fits = X402JSON.headerValue(["pad": String(repeating: "a", count: 6000)])
        #expect(fits.utf8.count <= X402.headerBytesMax)
        #expect(throws: Never.self) { try X402JSON.object(headerValue: fits) }
    }

    @Test func malformedJSONIsRefused() {
        for text in ["not json", "[1,2]", "\"text\"", "{\"x402Version\": 2"] {
            let header = Data(text.utf8).base64EncodedString()
            #expect(throws: X402Malformed.self) { try PaymentPayload(headerValue: header) }
        }
    }

    /// Each field removed, mistyped or out of its format makes the payment malformed, with
    /// a message naming the field.
    @Test func everyFieldIsRequiredAndChecked() throws {
        let payment = try #require(PaymentPayload(paying: offer, with: payer, now: 1_795_000_000))
        func edited(_ path: [String], _ value: Any?) -> [String: Any] {
            func set(_ object: [String: Any], _ path: ArraySlice<String>) -> [String: Any] {
                var object = object
                let key = path.first!
                if path.count == 1 { object[key] = value } else { object[key] = set(object[key] as! [String: Any], path.dropFirst()) }
                return object
            }
            return set(payment.json, path[...])
        }
        let cases: [([String], Any?, String)] = [
            (["x402Version"], nil, "x402Version"), (["x402Version"], 1, "x402Version"), (["x402Version"], true, "x402Version"),
            (["x402Version"], "2", "x402Version"), (["accepted"], nil, "accepted"), (["accepted", "amount"], 5, "accepted.amount"),
            (["accepted", "maxTimeoutSeconds"], 1.5, "accepted.maxTimeoutSeconds"), (["accepted", "payTo"], nil, "accepted.payTo"),
            (["payload"], nil, "payload"), (["payload", "signature"], nil, "payload.signature"),
            (["payload", "signature"], "AAAA", "payload.signature"),
            (["payload", "authorization"], "text", "payload.authorization"),
            (["payload", "authorization", "from"], String(repeating: "A", count: 64), "payload.authorization.from"),
            (["payload", "authorization", "from"], "abc", "payload.authorization.from"),
            (["payload", "authorization", "nonce"], nil, "payload.authorization.nonce"),
            (["payload", "authorization", "nonce"], String(repeating: "0", count: 62), "payload.authorization.nonce"),
            (["payload", "authorization", "amount"], "064000", "payload.authorization.amount"),
            (["payload", "authorization", "amount"], "-1", "payload.authorization.amount"),
            (["payload", "authorization", "amount"], "18446744073709551616", "payload.authorization.amount"),
            (["payload", "authorization", "amount"], 64000, "payload.authorization.amount"),
            (["payload", "authorization", "validAfter"], "1.5", "payload.authorization.validAfter"),
            (["payload", "authorization", "validBefore"], nil, "payload.authorization.validBefore"),
            (["payload", "authorization", "resource"], nil, "payload.authorization.resource"),
        ]
        for (path, value, field) in cases {
            do {
                _ = try PaymentPayload(json: edited(path, value))
                Issue.record("\(path) = \(String(describing: value)) was accepted")
            } catch {
                #expect(error.message.contains(field), "\(error.message) does not name \(field)")
            }
        }
        #expect(try PaymentPayload(json: payment.json) == payment)
    }

    @Test func amountsHaveOneSpelling() {
        #expect(X402JSON.amount("0") == 0)
        #expect(X402JSON.amount("2500000") == 2_500_000)
        #expect(X402JSON.amount("18446744073709551615") == UInt64.max)
        for bad in ["", "00", "01", "+1", "-0", "1e3", " 1", "1.0", "١"] { #expect(X402JSON.amount(bad) == nil, "\(bad)") }
    }

    @Test func responsesCarryTheSpecsFields() throws {
        let payer = self.payer.publicKey
        let settled = try X402JSON.object(headerValue: SettlementResponse.settled(transaction: "ab12", network: "tributary:devnet", payer: payer, amount: 7).headerValue)
        #expect(settled["success"] as? Bool == true && settled["transaction"] as? String == "ab12" && settled["network"] as? String == "tributary:devnet")
        #expect(settled["payer"] as? String == payer.hex && settled["amount"] as? String == "7" && settled["errorReason"] == nil)
        let failed = SettlementResponse.failed("invalid_tributary_nonce_used", network: "tributary:devnet", payer: payer).json
        #expect(failed["success"] as? Bool == false && failed["errorReason"] as? String == "invalid_tributary_nonce_used" && failed["transaction"] as? String == "")
        let invalid = VerifyResponse(.invalid(.expired), payer: payer).json
        #expect(invalid["isValid"] as? Bool == false && invalid["invalidReason"] as? String == "invalid_tributary_expired" && invalid["payer"] as? String == payer.hex)
        #expect(VerifyResponse(.valid(offer: offer), payer: payer).json["invalidReason"] == nil)
        let kinds = try #require(SupportedKinds.json(chainID: "devnet")["kinds"] as? [[String: Any]])
        #expect(kinds.map { $0["scheme"] as? String } == ["exact", "upto"])
        #expect(kinds.allSatisfy { $0["network"] as? String == "tributary:devnet" && $0["x402Version"] as? Int == 2 })
    }
}
