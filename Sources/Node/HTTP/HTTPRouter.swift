import Foundation

/// The node's HTTP routes as one table: each route is a method, a path pattern and a handler,
/// run through the route's middleware. A path that matches no pattern answers 404; one that
/// matches only under other methods answers 405 with `Allow`. Errors use the chain API's
/// shape `{"error": code, "message"}`.
struct HTTPRouter: Sendable {
    /// The handler of a route: the request and the values of the pattern's `{…}` segments, in order.
    typealias Handler = @Sendable (HTTPRequest, _ parameters: [String]) -> HTTPResponse

    struct Route: Sendable {
        let method: String
        /// Path segments; a `{name}` segment matches any one segment.
        let pattern: [String]
        let handler: Handler

        /// The values of the `{…}` segments when `segments` matches the pattern, else nil.
        func parameters(_ segments: [Substring]) -> [String]? {
            guard segments.count == pattern.count else { return nil }
            var values: [String] = []
            for (expected, given) in zip(pattern, segments) {
                if expected.hasPrefix("{") { values.append(String(given)) } else if expected != given { return nil }
            }
            return values
        }
    }

    private(set) var routes: [Route] = []

    /// Adds `method path` (e.g. `GET /v1/accounts/{address}`), answered by `handler` through
    /// `middleware` (the first sees the request first).
    mutating func add(_ method: String, _ path: String, through middleware: [any Middleware] = [], _ handler: @escaping Handler) {
        let pattern = path.split(separator: "/").map(String.init)
        precondition(!routes.contains { $0.method == method && $0.pattern == pattern }, "\(method) \(path) is routed twice")
        let wrapped = middleware.reversed().reduce(handler) { next, step in
            { request, parameters in step.respond(to: request) { next($0, parameters) } }
        }
        routes.append(Route(method: method, pattern: pattern, handler: wrapped))
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let segments = request.pathComponents
        var allowed: [String] = []
        for route in routes {
            guard let parameters = route.parameters(segments) else { continue }
            if route.method == request.method { return route.handler(request, parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        guard !allowed.isEmpty else { return .error(404, "not_found", "no route \(request.method) \(request.path)") }
        var response = HTTPResponse.error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
        response.headers.append(("Allow", allowed.joined(separator: ", ")))
        return response
    }
}

/// A step around a route's handler: it sees the request before the handler and the response
/// after it, and may answer without calling `next`.
protocol Middleware: Sendable {
    func respond(to request: HTTPRequest, next: (HTTPRequest) -> HTTPResponse) -> HTTPResponse
}
