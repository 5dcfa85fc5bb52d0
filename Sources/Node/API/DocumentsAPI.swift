import Crypto
import Foundation
import Inference
import Ledger

/// The text of datanet documents, kept off chain in the node's `DocumentStore` and checked
/// against the chain's `contribute` records (docs/datanets.md):
///
/// | route | answer |
/// | --- | --- |
/// | `POST /v1/datanets/{id}/documents` | body `{"text"}`, `{"prompt", "completion"}` or the raw text (`text/plain`); stored when a committed `contribute` names its hash in the datanet: `201` (`200` when already held) with the document |
/// | `GET /v1/datanets/{id}/documents` | `{"datanet", "documents": [{"id", "contributor", "size_bytes", "height", "stored"}], "next"}`, every committed contribution in id order; `?after=<id>&limit=N` pages, `next` is the cursor (null at the end) |
/// | `GET /v1/datanets/{id}/documents/{hash}` | one contribution, as in the list, with `datanet` |
/// | `GET /v1/documents/{hash}` | `{"id", "text", "size_bytes", "datanet", "contributor", "height", "contributions"}` (and `prompt`, `completion` for such a document) |
///
/// Errors are the chain API's `{"error": code, "message"}`.
struct DocumentsAPI: Sendable {
    let node: ChainNode
    let documents: DocumentStore
    /// The largest document text accepted, in UTF-8 bytes (`document_bytes_max`).
    let documentBytesMax: Int

    /// Contributions listed per page by default, and at most.
    static let pageDocumentsDefault = 100
    static let pageDocumentsMax = 1_000

    func register(in router: inout HTTPRouter) {
        router.add("POST", "/v1/datanets/{id}/documents") { request, id in answer(request) { try store(datanet: id[0], request) } }
        router.add("GET", "/v1/datanets/{id}/documents") { request, id in answer(request) { try list(datanet: id[0], query: request.query) } }
        router.add("GET", "/v1/datanets/{id}/documents/{hash}") { request, ids in answer(request) { try contribution(datanet: ids[0], document: ids[1]) } }
        router.add("GET", "/v1/documents/{hash}") { request, id in answer(request) { try document(id[0]) } }
    }

    private func answer(_ request: HTTPRequest, _ route: () throws -> HTTPResponse) -> HTTPResponse {
        ChainAPI.answer(request, log: node.log, route)
    }

    // MARK: Routes

    /// `POST /v1/datanets/{id}/documents`: checks in order the datanet, the body, the size and
    /// the chain's contribution record, then stores; nothing is written unless every check passes.
    private func store(datanet text: String, _ request: HTTPRequest) throws -> HTTPResponse {
        let datanet = try registeredDatanet(text)
        let document = try Self.document(from: request)
        guard document.sizeBytes <= documentBytesMax else {
            throw APIError(413, "document_too_large",
                           "the document is \(document.sizeBytes) bytes; this node stores documents of at most \(documentBytesMax) bytes (document_bytes_max)")
        }
        let id = Digest(hex: document.id)!
        guard let contribution: Contribution = node.store.record(.contribution(datanet: datanet, contentHash: id)) else {
            throw APIError(422, "not_contributed",
                           "no committed contribute transaction names document \(id.hex) in datanet \(datanet.hex); submit one (tributary datanet add) and post the text once it is committed")
        }
        guard contribution.sizeBytes == UInt64(document.sizeBytes) else {
            throw APIError(422, "contribution_size_mismatch",
                           "the contribution of \(id.hex) records \(contribution.sizeBytes) bytes but the text has \(document.sizeBytes)")
        }
        let held = try documents.holds(id, in: datanet)
        if !held { try documents.store(document.text, id: id, datanet: datanet) }
        var object = Self.view(id, contribution, stored: true)
        object["datanet"] = datanet.hex
        return .json(object, status: held ? 200 : 201)
    }

    /// The document in a POST body: JSON `{"text"}` or `{"prompt", "completion"}`, or the raw
    /// UTF-8 text when the body is `text/plain`.
    private static func document(from request: HTTPRequest) throws -> DatanetDocument {
        if request.headers["content-type"]?.hasPrefix("text/plain") == true {
            guard let text = String(validating: request.body, as: UTF8.self) else {
                throw APIError(400, "malformed_request", "a text/plain body must be UTF-8")
            }
            guard !text.isEmpty else { throw APIError(400, "malformed_request", "the document text is empty") }
            return DatanetDocument(text: text)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw APIError(400, "malformed_request",
                           "body must be JSON {\"text\": \"…\"} or {\"prompt\": \"…\", \"completion\": \"…\"}, or the text as text/plain")
        }
        do { return try DatanetFile.document(object, source: "body", line: nil) } catch {
            throw APIError(400, "malformed_request", error.description)
        }
    }

    /// `GET /v1/datanets/{id}/documents?after=<id>&limit=N`.
    private func list(datanet text: String, query: [String: String]) throws -> HTTPResponse {
        let datanet = try registeredDatanet(text)
        var after: Digest?
        if let cursor = query["after"] {
            guard let value = Digest(hex: cursor) else { throw APIError(400, "malformed_cursor", "after '\(cursor)' is not 64 hex characters") }
            after = value
        }
        var limit = Self.pageDocumentsDefault
        if let given = query["limit"] {
            guard let value = Int(given), (1...Self.pageDocumentsMax).contains(value) else {
                throw APIError(400, "malformed_limit", "limit must be a whole number in 1...\(Self.pageDocumentsMax), got '\(given)'")
            }
            limit = value
        }
        // One more than asked says whether another page follows.
        let found = node.store.contributions(to: datanet, after: after, limit: limit + 1)
        let page = found.prefix(limit)
        let entries = try page.map { try Self.view($0.contentHash, $0.contribution, stored: documents.holds($0.contentHash, in: datanet)) }
        let next: Any = found.count > limit ? page.last!.contentHash.hex : NSNull()
        return .json(["datanet": datanet.hex, "documents": entries, "next": next])
    }

    /// `GET /v1/datanets/{id}/documents/{hash}`.
    private func contribution(datanet text: String, document hash: String) throws -> HTTPResponse {
        let datanet = try registeredDatanet(text)
        let id = try Self.documentID(hash)
        guard let contribution: Contribution = node.store.record(.contribution(datanet: datanet, contentHash: id)) else {
            throw APIError(404, "not_found", "no committed contribution of \(id.hex) to datanet \(datanet.hex)")
        }
        var object = Self.view(id, contribution, stored: try documents.holds(id, in: datanet))
        object["datanet"] = datanet.hex
        return .json(object)
    }

    /// `GET /v1/documents/{hash}`: the text and the contributions it was posted under here,
    /// earliest first; `datanet`, `contributor` and `height` are the earliest's.
    private func document(_ hash: String) throws -> HTTPResponse {
        let id = try Self.documentID(hash)
        guard let text = try documents.text(id) else { throw APIError(404, "not_found", "this node holds no document \(id.hex)") }
        let contributions = documents.datanets(holding: id).compactMap { datanet -> (datanet: Digest, record: Contribution)? in
            node.store.record(.contribution(datanet: datanet, contentHash: id)).map { (datanet, $0) }
        }.sorted { ($0.record.height, $0.datanet) < ($1.record.height, $1.datanet) }
        guard let first = contributions.first else {
            throw StoreError("document \(id.hex) is stored without a committed contribution")
        }
        var object: [String: Any] = [
            "id": id.hex, "text": text, "size_bytes": text.utf8.count,
            "datanet": first.datanet.hex, "contributor": first.record.contributor.hex, "height": first.record.height,
            "contributions": contributions.map { ["datanet": $0.datanet.hex, "contributor": $0.record.contributor.hex, "height": $0.record.height] },
        ]
        if case let .promptCompletion(prompt, completion) = DatanetDocument(text: text).content {
            object["prompt"] = prompt
            object["completion"] = completion
        }
        return .json(object)
    }

    // MARK: Shared

    private func registeredDatanet(_ text: String) throws -> Digest {
        guard let id = Digest(hex: text) else { throw APIError(400, "malformed_id", "datanet '\(text)' is not 64 hex characters") }
        guard node.store.value(for: .datanet(id)) != nil else { throw APIError(404, "not_found", "no datanet \(id.hex)") }
        return id
    }

    private static func documentID(_ text: String) throws -> Digest {
        guard let id = Digest(hex: text) else { throw APIError(400, "malformed_hash", "'\(text)' is not 64 hex characters") }
        return id
    }

    private static func view(_ id: Digest, _ contribution: Contribution, stored: Bool) -> [String: Any] {
        ["id": id.hex, "contributor": contribution.contributor.hex, "size_bytes": contribution.sizeBytes,
         "height": contribution.height, "stored": stored]
    }
}
