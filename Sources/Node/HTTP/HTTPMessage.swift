import Foundation

/// An HTTP request as handlers see it: the whole body already read (within the size cap).
struct HTTPRequest: Sendable {
    let method: String
    /// The path without the query string, e.g. `/v1/accounts/ab12…`.
    let path: String
    let query: [String: String]
    /// Header names lowercased.
    let headers: [String: String]
    let body: [UInt8]
    /// Whether the client connected from this machine (a loopback address).
    var clientIsLoopback = false
    /// Whether the client has closed its connection (or reset it) while the request is
    /// answered; a handler that works long on a whole-body answer asks now and then.
    var clientLeft: @Sendable () -> Bool = { false }

    /// Path components after splitting on `/`, without empty ones.
    var pathComponents: [Substring] { path.split(separator: "/") }
}

/// An HTTP response.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8]
    /// When set, the body is this stream (sent chunked as it is written) and `body` is unused.
    var stream: HTTPBodyStream?

    init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/event-stream` response whose events the caller writes into `stream`.
    static func eventStream(_ stream: HTTPBodyStream) -> HTTPResponse {
        var response = HTTPResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")], body: [])
        response.stream = stream
        return response
    }

    /// A JSON body (sorted keys) with `Content-Type: application/json`.
    static func json(_ object: Any, status: Int = 200) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(data) + [0x0a])
    }

    /// The API's error shape: `{"error": code, "message": text}`.
    static func error(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        json(["error": code, "message": message], status: status)
    }

    /// A 500 for an unexpected failure: the details go to the log under an id the answer
    /// names, never to the client (they can hold paths and internal state).
    static func internalError(_ request: HTTPRequest, _ error: any Error, log: Logger) -> HTTPResponse {
        let incident = UUID().uuidString.prefix(8).lowercased()
        log.error("request failed", ["method": request.method, "path": request.path, "incident": incident, "error": "\(error)"])
        return .error(500, "internal", "the node could not answer (incident \(incident) in its log)")
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8", status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }
}

/// Answers requests; called concurrently from the server's connection threads.
typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse
