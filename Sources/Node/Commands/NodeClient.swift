import Crypto
import Foundation
import Ledger

/// The CLI's view of a node's HTTP API (`--node URL`, default `$TRIBUTARY_NODE` or
/// `http://127.0.0.1:26657`). With `$TRIBUTARY_ADMIN_TOKEN` set, requests carry it as a
/// bearer token (the adapter routes of a node with an `admin_token` need it).
struct NodeClient {
    let baseURL: String
    private let authorization: [String] = ProcessInfo.processInfo.environment["TRIBUTARY_ADMIN_TOKEN"].map { ["Authorization: Bearer \($0)"] } ?? []

    static let nodeOption = CommandSpec.Option(
        name: "node", value: "URL", help: "Node HTTP API (default $TRIBUTARY_NODE or http://127.0.0.1:26657).")

    init(arguments: ParsedArguments) {
        var url = arguments.value("node") ?? ProcessInfo.processInfo.environment["TRIBUTARY_NODE"] ?? "http://127.0.0.1:26657"
        while url.hasSuffix("/") { url.removeLast() }
        baseURL = url
    }

    /// GETs `path` and returns the JSON object; API errors become `CommandError`s with the
    /// node's message.
    func get(_ path: String) throws -> [String: Any] {
        try decode(HTTPClient.send("GET", baseURL + path, headers: authorization))
    }

    /// GETs `path` like `get`, but answers nil when the node says 404 (nothing there).
    func lookup(_ path: String) throws -> [String: Any]? {
        let response = try HTTPClient.send("GET", baseURL + path)
        return response.status == 404 ? nil : try decode(response)
    }

    func post(_ path: String, json object: [String: Any]) throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: object)
        return try decode(HTTPClient.send("POST", baseURL + path, body: Array(body), headers: ["Content-Type: application/json"] + authorization))
    }

    /// POSTs `text` as a `text/plain` UTF-8 body.
    func post(_ path: String, text: String) throws -> [String: Any] {
        try decode(HTTPClient.send("POST", baseURL + path, body: Array(text.utf8), headers: ["Content-Type: text/plain; charset=utf-8"]))
    }

    func delete(_ path: String) throws -> [String: Any] {
        try decode(HTTPClient.send("DELETE", baseURL + path, headers: authorization))
    }

    private func decode(_ response: HTTPClient.Response) throws -> [String: Any] {
        guard let object = response.json else {
            throw CommandError("node answered HTTP \(response.status) without a JSON object")
        }
        guard (200..<300).contains(response.status) else {
            throw CommandError("\(object["error"] as? String ?? "HTTP \(response.status)"): \(object["message"] as? String ?? "")")
        }
        return object
    }
}
