import Crypto
import Foundation
import Ledger

/// The chain's HTTP API:
///
/// | route | answer |
/// | --- | --- |
/// | `POST /v1/txs` | body `{"tx": "<hex of the signed transaction's canonical bytes>"}` or the raw bytes (`application/octet-stream`); `202 {"hash", "status": "pending"}`. A batch `{"txs": ["<hex>", …]}` answers `202 {"results": [...]}`, one result per transaction in order |
/// | `GET /v1/txs/{hash}` | `{"hash", "status": "committed" | "pending" | "dropped", …}` |
/// | `GET /v1/accounts/{address}` | balance, locked, spendable, stake, unbonding, nonce, pending nonce |
/// | `GET /v1/blocks/{height | latest}` | the block with its certificate (canonical bytes with `Accept: application/octet-stream`) |
/// | `GET /v1/datanets/{id}`, `GET /v1/adapters/{hash}` | registry records (a datanet's documents: `DocumentsAPI`) |
/// | `GET /v1/escrows/{settlement}` | `{"settlement", "provider", "adapter", "amount", "expiry_height"}`: the contributors' royalty escrow of a `settle_payment` transaction; 404 once released or expired (or when the settlement left none) |
/// | `GET /v1/parameters` | the genesis parameters, royalty rules included |
/// | `GET /v1/validators` | `{"height", "validators": [{"address", "power", "stake"}]}`: the set certifying the next block |
/// | `GET /v1/supply` | `{"height", "height_after", "supply", "circulating"}`: the recorded supply and balances + stakes + unbonding summed (equal) |
/// | `GET /v1/status` | chain id, height, hashes, mempool size, validator, node id, peers (a count), `catching_up` (in block sync), `sync_target_height` (the highest height known among peers, at least its own), `document_bytes_max` |
/// | `GET /v1/net/peers` | `{"peers": [{"id", "address", "direction", "connected_ms", "bytes_sent", "bytes_received", "score"}]}` |
/// | `GET /metrics` | Prometheus text (with `tributary_serving_requests_queued` and `tributary_serving_sequences_running` on a node that serves a model) |
///
/// Errors are `{"error": code, "message": text}` with a 4xx status for client mistakes.
struct ChainAPI: Sendable {
    let node: ChainNode
    /// The largest datanet document this node stores, reported in the status (`DocumentsAPI`).
    let documentBytesMax: Int
    /// The serving scheduler's load, for `/metrics`, when the node serves a model.
    var servingLoad: (@Sendable () -> (queued: Int, running: Int))? = nil

    func register(in router: inout HTTPRouter) {
        router.add("POST", "/v1/txs") { request, _ in submit(request) }
        router.add("GET", "/v1/txs/{hash}") { request, id in answer(request) { try transaction(id[0]) } }
        router.add("GET", "/v1/accounts/{address}") { request, id in answer(request) { try account(id[0]) } }
        router.add("GET", "/v1/blocks/{height}") { request, id in answer(request) { try block(id[0], request) } }
        router.add("GET", "/v1/datanets/{id}") { request, id in answer(request) { try datanet(id[0]) } }
        router.add("GET", "/v1/adapters/{hash}") { request, id in answer(request) { try adapter(id[0]) } }
        router.add("GET", "/v1/escrows/{settlement}") { request, id in answer(request) { try escrow(id[0]) } }
        router.add("GET", "/v1/parameters") { _, _ in .json(JSONView.parameters(node.store.parameters)) }
        router.add("GET", "/v1/status") { _, _ in status() }
        router.add("GET", "/v1/validators") { request, _ in answer(request) { try validators() } }
        router.add("GET", "/v1/supply") { request, _ in answer(request) { try supply() } }
        router.add("GET", "/v1/net/peers") { _, _ in peers() }
        router.add("GET", "/metrics") { _, _ in
            let status = node.status
            var text = node.metrics.render(height: status.height, mempoolTransactions: node.mempool.count, mempoolBytes: node.mempool.bytes)
            if let gossip = node.gossip { text += NetworkMetrics.render(gossip) }
            if let servingLoad { text += NodeMetrics.renderServing(servingLoad()) }
            return .text(text, contentType: "text/plain; version=0.0.4")
        }
    }

    /// `route`'s answer; an `APIError` becomes its status and `{"error", "message"}`, anything
    /// else a 500 without its text (`HTTPResponse.internalError`).
    static func answer(_ request: HTTPRequest, log: Logger, _ route: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try route()
        } catch let error as APIError {
            return .error(error.status, error.code, error.message)
        } catch {
            return HTTPResponse.internalError(request, error, log: log)
        }
    }

    private func answer(_ request: HTTPRequest, _ route: () throws -> HTTPResponse) -> HTTPResponse {
        Self.answer(request, log: node.log, route)
    }

    // MARK: Routes

    /// Transactions per batch submission (`{"txs": [...]}`).
    static let batchTransactionsMax = Block.maxTransactions

    private func submit(_ request: HTTPRequest) -> HTTPResponse {
        if request.headers["content-type"]?.hasPrefix("application/octet-stream") == true {
            let (status, object) = submitOne(request.body)
            return .json(object, status: status)
        }
        let usage = "body must be JSON {\"tx\": \"<hex>\"}, {\"txs\": [\"<hex>\", …]} or application/octet-stream bytes"
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            return .error(400, "malformed_request", usage)
        }
        if let list = object["txs"] as? [String] {
            guard list.count <= Self.batchTransactionsMax else {
                return .error(400, "malformed_request", "at most \(Self.batchTransactionsMax) transactions per batch")
            }
            let results = list.map { hex -> [String: Any] in
                guard let bytes = Hex.decode(hex) else { return ["error": "malformed_request", "message": "tx is not hex"] }
                return submitOne(bytes).object
            }
            return .json(["results": results], status: 202)
        }
        guard let hex = object["tx"] as? String else { return .error(400, "malformed_request", usage) }
        guard let bytes = Hex.decode(hex) else { return .error(400, "malformed_request", "tx is not hex") }
        let (status, answer) = submitOne(bytes)
        return .json(answer, status: status)
    }

    /// Decodes and submits one transaction: `202 {"hash", "status": "pending"}`, or the error's
    /// status and `{"error", "message"}` (with the hash when it decoded).
    private func submitOne(_ bytes: [UInt8]) -> (status: Int, object: [String: Any]) {
        let transaction: SignedTransaction
        do {
            transaction = try SignedTransaction(canonicalBytes: bytes, maxBytes: SignedTransaction.maxBytes)
        } catch {
            return (400, ["error": "malformed_transaction", "message": "\(error)"])
        }
        func refused(_ status: Int, _ code: String, _ message: String) -> (Int, [String: Any]) {
            (status, ["hash": transaction.hash.hex, "error": code, "message": message])
        }
        do {
            try node.submit(transaction)
        } catch {
            switch error {
            case let .rejected(reason):
                if case .wrongNonce = reason { return refused(409, reason.code, reason.description) }
                return refused(422, reason.code, reason.description)
            case let .mempool(reason):
                switch reason {
                case .full: return refused(503, reason.code, reason.description)
                case .alreadyKnown, .nonceTaken, .staleNonce, .nonceTooFarAhead, .tooManyGaps:
                    return refused(409, reason.code, reason.description)
                case .debitsExceedBalance: return refused(422, reason.code, reason.description)
                }
            }
        }
        return (202, ["hash": transaction.hash.hex, "status": "pending"])
    }

    private func transaction(_ text: String) throws -> HTTPResponse {
        guard let hash = Digest(hex: text) else { throw APIError(400, "malformed_hash", "'\(text)' is not 64 hex characters") }
        switch try node.transactionStatus(hash) {
        case let .committed(height, index, transaction):
            var object = JSONView.transaction(transaction)
            object["status"] = "committed"
            object["height"] = height
            object["index"] = index
            return .json(object)
        case let .pending(transaction):
            var object = JSONView.transaction(transaction)
            object["status"] = "pending"
            return .json(object)
        case let .dropped(reason):
            return .json(["hash": hash.hex, "status": "dropped", "error": reason.code, "message": reason.description])
        case .unknown:
            throw APIError(404, "not_found", "no transaction \(hash.hex) is committed, pending or recently dropped")
        }
    }

    private func account(_ text: String) throws -> HTTPResponse {
        guard let address = Address(hex: text) else { throw APIError(400, "malformed_address", "'\(text)' is not 64 hex characters") }
        let store = node.store
        let account = store.account(address)
        let nowSeconds = ChainNode.nowMs() / 1000
        let locked = store.lockedPart(of: account.balance, of: address, at: nowSeconds)
        let stake = store.record(.validator(address), as: ValidatorRecord.self)?.stake ?? 0
        let unbonding = store.record(.unbonding(address), as: Unbonding.self)?.total ?? 0
        return .json([
            "address": address.hex,
            "balance": String(account.balance),
            "balance_open": OPEN.decimal(fromAtomicUnits: account.balance),
            "locked": String(locked),
            "spendable": String(account.balance - locked),
            "stake": String(stake),
            "unbonding": String(unbonding),
            "nonce": account.nonce,
            "pending_nonce": node.mempool.nextNonce(for: address) { node.store.account(address).nonce },
        ])
    }

    /// The block as JSON, or its canonical bytes when the client accepts `application/octet-stream`.
    private func block(_ text: String, _ request: HTTPRequest) throws -> HTTPResponse {
        let height: UInt64
        if text == "latest" {
            height = node.status.height
        } else {
            guard let parsed = UInt64(text) else { throw APIError(400, "malformed_height", "'\(text)' is not a height or 'latest'") }
            height = parsed
        }
        let missing = APIError(404, "not_found", "no block at height \(height); the chain is at \(node.status.height)")
        if request.headers["accept"]?.contains("application/octet-stream") == true {
            guard let bytes = try node.store.blockBytes(at: height) else { throw missing }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: bytes)
        }
        guard let block = try node.store.block(at: height) else { throw missing }
        return .json(JSONView.block(block))
    }

    private func datanet(_ text: String) throws -> HTTPResponse {
        guard let id = Digest(hex: text) else { throw APIError(400, "malformed_id", "'\(text)' is not 64 hex characters") }
        guard let datanet: Datanet = node.store.record(.datanet(id)) else { throw APIError(404, "not_found", "no datanet \(text)") }
        return .json(JSONView.datanet(id, datanet))
    }

    private func adapter(_ text: String) throws -> HTTPResponse {
        guard let hash = Digest(hex: text) else { throw APIError(400, "malformed_hash", "'\(text)' is not 64 hex characters") }
        guard let adapter: AdapterRecord = node.store.record(.adapter(hash)) else { throw APIError(404, "not_found", "no adapter \(text)") }
        return .json(JSONView.adapter(hash, adapter))
    }

    private func escrow(_ text: String) throws -> HTTPResponse {
        guard let hash = Digest(hex: text) else { throw APIError(400, "malformed_hash", "'\(text)' is not 64 hex characters") }
        guard let escrow: RoyaltyEscrow = node.store.record(.royaltyEscrow(settlement: hash)) else {
            throw APIError(404, "not_found", "no royalty escrow waits for settlement \(text): released, expired, or never made")
        }
        return .json(["settlement": text, "provider": escrow.provider.hex, "adapter": escrow.adapter.hex, "amount": String(escrow.amount), "expiry_height": escrow.expiryHeight])
    }

    private func status() -> HTTPResponse {
        var object = JSONView.status(node.status)
        object["mempool_transactions"] = node.mempool.count
        object["validator"] = node.validatorKey.publicKey.hex
        object["min_fee"] = String(node.store.parameters.minFee)
        object["document_bytes_max"] = documentBytesMax
        object["peers"] = node.gossip?.transport.peerCount ?? 0
        if let gossip = node.gossip { object["node_id"] = gossip.transport.nodeID.hex }
        let sync = node.syncState
        object["catching_up"] = sync.catchingUp
        object["sync_target_height"] = max(sync.targetHeight, node.status.height)
        return .json(object)
    }

    /// `GET /v1/validators`: the set that certifies the next block (`height`), each member with
    /// its voting power and bonded stake (atomic units, as a string).
    private func validators() throws -> HTTPResponse {
        let height = node.status.height + 1
        let members = try node.store.validatorSet(forHeight: height).members.map { member -> [String: Any] in
            let stake = node.store.record(.validator(member.address), as: ValidatorRecord.self)?.stake ?? 0
            return ["address": member.address.hex, "power": member.power, "stake": String(stake)]
        }
        return .json(["height": height, "validators": members])
    }

    /// `GET /v1/supply`: the recorded supply and the sum of every balance, stake and unbonding
    /// stake (atomic units, as strings), which must be equal; `height` before and after the
    /// scan (equal when no block committed during it).
    private func supply() throws -> HTTPResponse {
        let before = node.status.height
        let circulating = try node.store.circulatingSupply()
        let recorded = node.store.record(.supply, as: Supply.self)?.total ?? 0
        return .json(["height": before, "height_after": node.status.height, "supply": String(recorded), "circulating": String(circulating)])
    }

    /// `GET /v1/net/peers`: the connected peers, with `connected_ms` how long each has been.
    private func peers() -> HTTPResponse {
        let nowMs = ChainNode.nowMs()
        let peers: [[String: Any]] = (node.gossip?.peers() ?? []).map { entry in
            [
                "id": entry.peer.id.hex,
                "address": entry.peer.address,
                "direction": entry.peer.direction.rawValue,
                "connected_ms": nowMs >= entry.peer.connectedAtMs ? nowMs - entry.peer.connectedAtMs : 0,
                "bytes_sent": entry.peer.bytesSent,
                "bytes_received": entry.peer.bytesReceived,
                "score": entry.score,
            ]
        }
        return .json(["peers": peers])
    }
}

/// A client mistake found while answering: becomes `{"error": code, "message": …}`.
struct APIError: Error {
    let status: Int
    let code: String
    let message: String

    init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}
