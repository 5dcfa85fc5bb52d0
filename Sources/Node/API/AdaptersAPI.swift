import Crypto
import Foundation
import Inference

/// Managing the adapters a serving node hosts (the chain's adapter registry is
/// `GET /v1/adapters/{hash}` of `ChainAPI`):
///
/// | route | answer |
/// | --- | --- |
/// | `GET /v1/adapters` | `{"adapters": [{id, name, path, bytes, ranks, target_modules, resident}], "resident_bytes", "budget_bytes"}` |
/// | `POST /v1/adapters` | body `{"path": "<adapter directory or .gguf on the node's machine>", "name"?}` → `201` with the adapter |
/// | `DELETE /v1/adapters/{id}` | `{"removed": id}`; requests already running keep their adapter |
///
/// Adding and removing adapters (and seeing their paths in the listing) is administration:
/// with `admin_token` set it needs `Authorization: Bearer <admin_token>`, without one a client
/// on this machine (loopback); others get 401 or 403. Answers never carry a filesystem path
/// to anyone else.
///
/// Errors are the chain API's `{"error": code, "message"}`.
struct AdaptersAPI: Sendable {
    let service: ModelService
    /// The bearer token of adapter administration; empty: loopback clients only.
    let adminToken: String

    /// Whether `request` may administer adapters; nil, or the refusal.
    func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        if adminToken.isEmpty {
            return request.clientIsLoopback ? nil
                : .error(403, "forbidden", "adapters are administered from this machine only (or with the node's admin_token)")
        }
        let given = request.headers["authorization"] ?? ""
        return constantTimeEqual(Array(given.utf8), Array("Bearer \(adminToken)".utf8)) ? nil
            : .error(401, "unauthorized", "adapter administration needs Authorization: Bearer <the node's admin_token>")
    }

    /// Registers the hosting routes (`GET /v1/adapters/{hash}`, the chain registry, is `ChainAPI`'s).
    func register(in router: inout HTTPRouter) {
        router.add("GET", "/v1/adapters") { request, _ in list(showingPaths: refusal(request) == nil) }
        router.add("POST", "/v1/adapters") { request, _ in refusal(request) ?? add(request.body) }
        router.add("DELETE", "/v1/adapters/{id}") { request, id in refusal(request) ?? remove(id[0]) }
    }

    private func list(showingPaths: Bool) -> HTTPResponse {
        .json(["adapters": service.adapters.adapters.map { Self.view($0, path: showingPaths) }, "resident_bytes": service.adapters.residentBytes,
               "budget_bytes": service.adapters.budgetBytes])
    }

    private func add(_ body: [UInt8]) -> HTTPResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any], let path = object["path"] as? String else {
            return .error(400, "malformed_request", "body must be JSON {\"path\": \"<adapter directory or .gguf file>\", \"name\": optional}")
        }
        let name = object["name"] as? String
        if let name, service.adapters.info(name: name) != nil || name == service.name {
            return .error(409, "name_taken", "an adapter or model named '\(name)' is already served")
        }
        do {
            let info = try service.adapters.register(path: path, name: name)
            return .json(Self.view(info, path: false), status: 201)
        } catch .alreadyRegistered {
            return .error(409, "already_registered", "this adapter is already hosted")
        } catch {
            return .error(422, "invalid_adapter", "\(error)".replacingOccurrences(of: path, with: "<path>"))
        }
    }

    private func remove(_ id: String) -> HTTPResponse {
        guard service.adapters.remove(id: id) else { return .error(404, "not_found", "no adapter \(id) is hosted here") }
        return .json(["removed": id])
    }

    /// An adapter's JSON; `path` only for administrators.
    static func view(_ info: AdapterInfo, path: Bool) -> [String: Any] {
        var view: [String: Any] = ["id": info.id, "name": info.name, "bytes": info.byteCount, "ranks": info.ranks,
                                   "target_modules": info.targetModules.map(\.rawValue), "resident": info.isResident]
        if path { view["path"] = info.path }
        return view
    }
}
