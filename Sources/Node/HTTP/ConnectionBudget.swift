import Synchronization

/// Middleware that caps the connections a group of routes holds at once — from the request's
/// arrival until its answer (a stream: its last byte) has gone — so long inference answers
/// cannot take every connection the server has and starve the chain API (`POST /v1/txs`).
/// Over the cap a request is answered 503 `busy` with `Retry-After` at once, in the error
/// shape of the OpenAI-style routes it guards (`{"error": {"message", "type", "code"}}`).
final class ConnectionBudget: Middleware {
    let connectionsMax: Int
    private let inFlight = Atomic<Int>(0)

    init(connectionsMax: Int) {
        precondition(connectionsMax > 0, "a budget of no connections")
        self.connectionsMax = connectionsMax
    }

    /// Requests of the group holding a connection now.
    var connections: Int { inFlight.load(ordering: .relaxed) }

    func respond(to request: HTTPRequest, next: (HTTPRequest) -> HTTPResponse) -> HTTPResponse {
        guard inFlight.add(1, ordering: .relaxed).newValue <= connectionsMax else {
            inFlight.subtract(1, ordering: .relaxed)
            var response = HTTPResponse.json(["error": [
                "message": "this node is answering \(connectionsMax) inference requests already; retry shortly", "type": "server_error", "code": "busy",
            ]], status: 503)
            response.headers.append(("Retry-After", "1"))
            return response
        }
        let response = next(request)
        guard let stream = response.stream else {
            inFlight.subtract(1, ordering: .relaxed)
            return response
        }
        stream.onClose { self.inFlight.subtract(1, ordering: .relaxed) }
        return response
    }
}
