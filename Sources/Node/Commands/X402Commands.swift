import Crypto
import Foundation
import Ledger
import Payments

/// `tributary x402 pay|verify|settle`: a curl-like paying client, and thin clients of a
/// node's facilitator routes for scripts (docs/x402.md).
enum X402Commands {
    static let all = [pay, facilitator("verify"), facilitator("settle")]

    static let pay = CommandSpec(
        path: ["x402", "pay"],
        summary: "Request a URL, paying an x402 402 answer: pick an offer within budget, sign it, retry.",
        discussion: """
        Sends the request; on 402 reads PAYMENT-REQUIRED, picks the cheapest offer on a
        tributary network in OPEN (--scheme to insist on one; upto before exact at equal
        amounts) whose amount is at most --max-amount, signs an authorization with --key for
        the offer's resource, and sends the request again with PAYMENT-SIGNATURE. Prints the
        answer's body, then the decoded PAYMENT-RESPONSE on a line of its own (--json: one
        object {"status", "body", "receipt", "offer"}). A stream carries its receipt in its
        last chunk. Exit status 1 when the answer is not 2xx.
        """,
        positionals: [.init(name: "url", help: "The resource, e.g. http://127.0.0.1:26657/v1/completions.")],
        options: [
            .init(name: "key", value: "FILE", help: "The payer's key file (required)."),
            .init(name: "max-amount", value: "OPEN", help: "The most to pay, in OPEN (e.g. 0.01); default: any amount."),
            .init(name: "scheme", value: "exact|upto", help: "Only offers of this scheme."),
            .init(name: "request", value: "METHOD", help: "HTTP method (default GET, or POST with --data).", short: "X"),
            .init(name: "data", value: "BODY", help: "Request body; sent as application/json unless --header names a type.", short: "d"),
            .init(name: "header", value: "'NAME: VALUE'", help: "Another request header.", isRepeatable: true, short: "H"),
            .flag("json", "Print one JSON object with the status, body, receipt and chosen offer."),
        ]
    ) { arguments in
        let key = try KeyFile.read(from: try arguments.required("key"))
        let url = try arguments.requiredPositional("url")
        let budget = try arguments.value("max-amount").map { text -> UInt64 in
            guard let units = OPEN.atomicUnits(fromDecimal: text) else { throw UsageError("--max-amount takes an amount of OPEN such as 0.01") }
            return units
        }
        let scheme = try arguments.value("scheme").map { text -> PaymentScheme in
            guard let scheme = PaymentScheme(rawValue: text) else { throw UsageError("--scheme takes exact or upto") }
            return scheme
        }
        let body = arguments.value("data").map { Array($0.utf8) }
        let method = arguments.value("request") ?? (body == nil ? "GET" : "POST")
        var headers = arguments.allValues("header")
        if body != nil, !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) { headers.append("Content-Type: application/json") }

        let first = try HTTPClient.send(method, url, body: body, headers: headers, timeoutSeconds: 300)
        var answer = first, offer: PaymentRequirements?
        if first.status == 402 {
            let required = try paymentRequired(first)
            let chosen = try choose(required.accepts, budget: budget, scheme: scheme)
            guard let payment = PaymentPayload(paying: chosen, with: key, now: UInt64(Date().timeIntervalSince1970)) else {
                throw CommandError("the offer has no resource or amount to sign")
            }
            offer = chosen
            answer = try HTTPClient.send(method, url, body: body, headers: headers + ["\(X402.paymentSignatureHeader): \(payment.headerValue)"], timeoutSeconds: 300)
            if answer.status == 402 {
                let refused = try? paymentRequired(answer)
                throw CommandError("payment refused: \(refused?.error ?? "402 again")")
            }
        }
        let receipt = try answer.headers[X402.paymentResponseHeader.lowercased()].map { try X402JSON.object(headerValue: $0) }
        if arguments.flag("json") {
            let parsed: Any = (try? JSONSerialization.jsonObject(with: Data(answer.body))) ?? String(decoding: answer.body, as: UTF8.self)
            let receiptJSON: Any = receipt ?? NSNull(), offerJSON: Any = (offer?.json).map { $0 as Any } ?? NSNull()
            try Output.json(["status": answer.status, "body": parsed, "receipt": receiptJSON, "offer": offerJSON], pretty: false)
        } else {
            FileHandle.standardOutput.write(Data(answer.body))
            if let receipt { print(String(decoding: X402JSON.data(receipt), as: UTF8.self)) }
        }
        guard (200..<300).contains(answer.status) else { throw CommandError("HTTP \(answer.status)") }
    }

    /// The offers of a 402: from `PAYMENT-REQUIRED`, else from the body.
    static func paymentRequired(_ response: HTTPClient.Response) throws -> PaymentRequired {
        do {
            if let header = response.headers[X402.paymentRequiredHeader.lowercased()] {
                return try PaymentRequired(json: X402JSON.object(headerValue: header))
            }
            return try PaymentRequired(json: X402JSON.object(json: Data(response.body)))
        } catch {
            throw CommandError("the 402 answer carries no readable offers: \(error)")
        }
    }

    /// The cheapest offer this client can pay: a tributary network, OPEN, the scheme asked
    /// for, within budget; `upto` first at equal amounts.
    static func choose(_ offers: [PaymentRequirements], budget: UInt64?, scheme: PaymentScheme?) throws -> PaymentRequirements {
        let payable = offers.compactMap { offer -> (PaymentRequirements, UInt64, PaymentScheme)? in
            guard let kind = PaymentScheme(rawValue: offer.scheme), offer.network.hasPrefix("tributary:"), offer.asset == X402.asset,
                  let amount = X402JSON.amount(offer.amount), offer.resource != nil, PublicKey(hex: offer.payTo) != nil
            else { return nil }
            return (offer, amount, kind)
        }
        let wanted = payable.filter { scheme == nil || $0.2 == scheme }
        guard !wanted.isEmpty else { throw CommandError("no offer this client can pay (\(offers.map { "\($0.scheme) on \($0.network)" }.joined(separator: ", ")))") }
        let affordable = wanted.filter { budget == nil || $0.1 <= budget! }
        guard let best = affordable.min(by: { ($0.1, $0.2 == .upto ? 0 : 1) < ($1.1, $1.2 == .upto ? 0 : 1) }) else {
            throw CommandError("every offer is above --max-amount: the cheapest asks \(OPEN.decimal(fromAtomicUnits: wanted.map(\.1).min()!)) OPEN")
        }
        return best.0
    }

    /// `x402 verify` / `x402 settle`: post a payment and its requirements to a node's facilitator.
    static func facilitator(_ route: String) -> CommandSpec {
        CommandSpec(
            path: ["x402", route],
            summary: route == "verify"
                ? "Ask a node's facilitator whether a payment is valid for some requirements (POST /x402/verify)."
                : "Have a node settle a payment made to it (POST /x402/settle) and print the receipt.",
            discussion: """
            --payment: a file holding the payment as JSON or as a PAYMENT-SIGNATURE header value
            (standard base64); --requirements: a file holding the offer it answers, as JSON.
            Prints the node's JSON answer; exit status 1 when it says invalid or unsettled.
            """,
            options: [
                NodeClient.nodeOption,
                .init(name: "payment", value: "FILE", help: "The payment (required; - for standard input)."),
                .init(name: "requirements", value: "FILE", help: "The payment requirements (required)."),
            ] + (route == "settle" ? [.init(name: "amount", value: "UNITS", help: "The charge of an upto payment, atomic units (default: its cap).")] : [])
        ) { arguments in
            let paymentText = try read(try arguments.required("payment")).trimmingCharacters(in: .whitespacesAndNewlines)
            let payment = paymentText.hasPrefix("{") ? try X402JSON.object(json: Data(paymentText.utf8)) : try X402JSON.object(headerValue: paymentText)
            let requirements = try X402JSON.object(json: Data(try read(try arguments.required("requirements")).utf8))
            var body: [String: Any] = ["x402Version": X402.version, "paymentPayload": payment, "paymentRequirements": requirements]
            if let amount = arguments.value("amount") { body["amount"] = amount }
            let response = try HTTPClient.send("POST", NodeClient(arguments: arguments).baseURL + "/x402/" + route, body: Array(X402JSON.data(body)),
                                               headers: ["Content-Type: application/json"])
            guard let answer = response.json else { throw CommandError("node answered HTTP \(response.status) without a JSON object") }
            try Output.json(answer, pretty: false)
            guard response.status == 200 else { throw CommandError("\(answer["error"] as? String ?? "HTTP \(response.status)"): \(answer["message"] as? String ?? "")") }
            guard answer[route == "verify" ? "isValid" : "success"] as? Bool == true else {
                throw CommandError((answer[route == "verify" ? "invalidReason" : "errorReason"] as? String) ?? "refused")
            }
        }
    }

    private static func read(_ path: String) throws -> String {
        let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
        guard let data, let text = String(data: data, encoding: .utf8) else { throw CommandError("cannot read \(path)") }
        return text
    }
}
