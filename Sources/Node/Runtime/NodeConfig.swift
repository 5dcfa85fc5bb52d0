import Consensus
import Foundation
import Gossip
import Inference
import Ledger

/// A node's settings: `<home>/config.json`, overridden by `TRIBUTARY_*` environment variables,
/// overridden by command-line flags.
struct NodeConfig: Codable, Sendable, Equatable {
    var http_address = "127.0.0.1:26657"
    /// The pause after each commit before the next height starts.
    var block_interval_ms = 500
    var timeout_propose_ms = 3_000
    var timeout_prevote_ms = 1_000
    var timeout_precommit_ms = 1_000
    /// Start heights without waiting for transactions.
    var create_empty_blocks = false
    var block_transactions_max = 5_000
    /// Relative to the home directory unless absolute.
    var validator_key = "validator.key"
    /// The node's peer-to-peer identity key, relative to the home unless absolute; created when missing.
    var node_key = "node.key"
    /// Where peers connect (`host:port`).
    var p2p_address = "0.0.0.0:26656"
    /// The `host:port` peers should dial to reach this node, when it differs from `p2p_address`
    /// (behind NAT, in a container): shown in the start log, and what peer exchange
    /// advertises (else `p2p_address`, unless its host is 0.0.0.0 or ::).
    var external_address = ""
    /// `<node id>@<host>:<port>,…`: peers to stay connected to, redialed whenever the link ends.
    var persistent_peers = ""
    /// `<node id>@<host>:<port>,…`: dialed for addresses when the address book has none to dial.
    var seeds = ""
    /// Peer exchange: advertise this node's address, learn others' into <home>/addrbook.json
    /// and dial them up to outbound_peers_max. Off: only persistent peers and seeds are dialed.
    var pex = true
    var inbound_peers_max = 40
    /// Inbound connections from one host still in their handshake (loopback exempt).
    var inbound_handshakes_per_host_max = 4
    var outbound_peers_max = 10
    /// Largest frame a peer may send; larger messages travel in several frames.
    var frame_bytes_max = 65_536
    /// Largest message reassembled from frames (a block with its certificate must fit).
    var message_bytes_max = 17 << 20 + 1_024
    /// Bytes queued for one peer before its transactions are dropped or, on other channels, it is disconnected.
    var send_queue_bytes_max = 64 << 20
    /// Bytes per second read from one peer; 0 for no limit.
    var receive_bytes_per_s_max = 0
    var handshake_timeout_ms = 5_000
    var ping_interval_ms = 2_000
    /// A peer silent this long is dropped.
    var peer_timeout_ms = 15_000
    /// A peer that takes no bytes this long while some wait for it is dropped.
    var write_stall_timeout_ms = 10_000
    /// How long a peer whose score fell below the threshold (bad blocks, floods of copies,
    /// repeated invalid messages) stays banned; bans are kept in <home>/peer_bans.json.
    var peer_ban_ms = 3_600_000
    var log_format = "human"
    var log_level = "info"
    var http_body_max_bytes = 1 << 20
    /// Connections the HTTP server holds at once (at most 64 of them from one client address).
    var http_connections_max = 256
    /// Of those, how many completion requests may hold at once (answering or streaming); the
    /// rest stay for the chain API, documents and the facilitator. Over it: 503 `busy`.
    var http_inference_connections_max = 192
    /// A request's headers must arrive within this long of its connection opening (or of the
    /// connection's previous answer), or the connection is closed.
    var http_header_timeout_ms = 10_000
    /// A request's headers and body must arrive within this long, or the connection is closed.
    var http_request_timeout_ms = 30_000
    /// The largest datanet document text the node stores (UTF-8 bytes); at most http_body_max_bytes.
    var document_bytes_max = 256 << 10
    var mempool_transactions_max = 50_000
    var mempool_bytes_max = 64 << 20
    var mempool_per_account_max = 1_000
    /// A model to serve as with `start --serve-model`: "" for none, "default", or a path.
    var serve_model = ""
    /// Threads of the served model; 0 for every core.
    var inference_threads = 0
    /// Activation precision of the served model: "f32" (matches the reference) or "int8" (faster decode, approximate).
    var inference_activations = "f32"
    /// Sequences decoding together in one batched step.
    var serving_sequences_max = 32
    /// Completion requests waiting for a slot before new ones get 429.
    var serving_queue_max = 256
    /// Largest `max_tokens` a completion request may ask for.
    var serving_max_tokens_max = 4096
    /// Bytes of LoRA adapter weights kept in memory; the least recently used are evicted.
    var adapter_budget_bytes = 1 << 30
    /// Answers waiting for attribution before new ones are answered without it (0: never attribute).
    var attribution_queue_max = 8
    /// Bytes of signed attribution proofs kept in `<home>/attributions`; past it the oldest are
    /// deleted (the newest is always kept).
    var attribution_proofs_bytes_max = 1 << 30
    /// Bearer token of adapter administration (POST/DELETE /v1/adapters); empty: loopback clients only.
    var admin_token = ""
    /// Atomic units of OPEN per generated token of the base model; above 0, completions need x402 payment.
    var price_per_token = 0
    /// Atomic units of OPEN per prompt token of paid completions.
    var price_per_prompt_token = 0
    /// When a paid request is answered: "commit" (after its settlement commits) or "pending" (after mempool acceptance).
    var x402_settlement = "commit"
    /// In commit mode, the longest wait for a settlement's commit; past it the answer is given
    /// as in pending mode (`settlement_pending`), since the settlement can still commit.
    var x402_commit_wait_ms = 30_000

    static let fileName = "config.json"

    /// `inference_activations` as a precision.
    func activationPrecision() throws(UsageError) -> ActivationPrecision {
        try ActivationPrecision(named: inference_activations, setting: "inference_activations")
    }

    /// Settings that environment variables may override, with their variable names.
    static let environment: [(variable: String, key: String)] = [
        ("TRIBUTARY_HTTP_ADDRESS", "http_address"),
        ("TRIBUTARY_P2P_ADDRESS", "p2p_address"),
        ("TRIBUTARY_EXTERNAL_ADDRESS", "external_address"),
        ("TRIBUTARY_PERSISTENT_PEERS", "persistent_peers"),
        ("TRIBUTARY_SEEDS", "seeds"),
        ("TRIBUTARY_BLOCK_INTERVAL_MS", "block_interval_ms"),
        ("TRIBUTARY_LOG_FORMAT", "log_format"),
        ("TRIBUTARY_LOG_LEVEL", "log_level"),
    ]

    /// Reads `<home>/config.json` (missing keys take defaults, unknown keys are an error),
    /// then applies environment overrides.
    static func load(home: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NodeConfig {
        let path = (home as NSString).appendingPathComponent(fileName)
        var object: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: path) {
            guard let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CommandError("\(path) is not a JSON object")
            }
            object = parsed
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(NodeConfig())) as! [String: Any]
        if let unknown = object.keys.first(where: { merged[$0] == nil }) {
            throw CommandError("\(path): unknown setting '\(unknown)'")
        }
        for (variable, key) in Self.environment {
            guard let value = environment[variable] else { continue }
            guard key.hasSuffix("_ms") else {
                object[key] = value
                continue
            }
            guard let number = Int(value) else { throw CommandError("\(variable) must be a whole number of milliseconds, got '\(value)'") }
            object[key] = number
        }
        merged.merge(object) { _, new in new }
        do {
            return try JSONDecoder().decode(NodeConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw CommandError("\(path): a setting has the wrong type (\(error))")
        }
    }

    /// The transport settings, persistent peers, seeds and the address to advertise, checked.
    func network(chainID: String) throws(UsageError)
        -> (transport: TransportConfig, persistentPeers: [PeerAddress], seeds: [PeerAddress], advertised: String?) {
        do { _ = try PeerAddress.splitHostPort(p2p_address) } catch { throw UsageError("p2p_address: \(error)") }
        if !external_address.isEmpty {
            do { _ = try PeerAddress.splitHostPort(external_address) } catch { throw UsageError("external_address: \(error)") }
        }
        let peers: [PeerAddress]
        do { peers = try PeerAddress.list(persistent_peers) } catch { throw UsageError("persistent_peers: \(error)") }
        let seedList: [PeerAddress]
        do { seedList = try PeerAddress.list(seeds) } catch { throw UsageError("seeds: \(error)") }
        var transport = TransportConfig(chainID: chainID)
        transport.listenAddress = p2p_address
        transport.inboundPeersMax = inbound_peers_max
        transport.inboundHandshakesPerHostMax = inbound_handshakes_per_host_max
        transport.outboundPeersMax = outbound_peers_max
        transport.frameBytesMax = frame_bytes_max
        transport.messageBytesMax = message_bytes_max
        transport.sendQueueBytesMax = send_queue_bytes_max
        transport.receiveBytesPerSecondMax = receive_bytes_per_s_max
        transport.handshakeTimeoutMs = handshake_timeout_ms
        transport.pingIntervalMs = ping_interval_ms
        transport.peerTimeoutMs = peer_timeout_ms
        transport.writeStallTimeoutMs = write_stall_timeout_ms
        if let defect = transport.defect { throw UsageError(defect) }
        guard peer_ban_ms >= 1 else { throw UsageError("peer_ban_ms must be at least 1") }
        guard message_bytes_max >= WireMessage.payloadBytesMax else {
            throw UsageError("message_bytes_max must be at least \(WireMessage.payloadBytesMax) (a largest block)")
        }
        let advertised = external_address.isEmpty ? p2p_address : external_address
        let host = (try? PeerAddress.splitHostPort(advertised).host) ?? ""
        return (transport, peers, seedList, ["0.0.0.0", "::", ""].contains(host) ? nil : advertised)
    }

    func write(home: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = (home as NSString).appendingPathComponent(Self.fileName)
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// Checks ranges; returns the parsed pieces the node needs.
    func validated() throws(UsageError) -> (address: SocketAddress, logger: Logger, mempool: Mempool.Limits, consensus: ConsensusConfig) {
        let address = try SocketAddress(parsing: http_address)
        guard let format = Logger.Format(rawValue: log_format) else {
            throw UsageError("log_format must be 'human' or 'json', got '\(log_format)'")
        }
        guard let level = Logger.Level(name: log_level) else {
            throw UsageError("log_level must be debug, info, warning or error, got '\(log_level)'")
        }
        guard (1...3_600_000).contains(block_interval_ms) else { throw UsageError("block_interval_ms must be 1...3600000") }
        guard (1...1_024).contains(serving_sequences_max) else { throw UsageError("serving_sequences_max must be 1...1024") }
        guard (0...1_000_000).contains(serving_queue_max) else { throw UsageError("serving_queue_max must be 0...1000000") }
        guard (1...1_000_000).contains(serving_max_tokens_max) else { throw UsageError("serving_max_tokens_max must be 1...1000000") }
        guard (0...256).contains(inference_threads) else { throw UsageError("inference_threads must be 0...256") }
        _ = try activationPrecision()
        guard (0...10_000).contains(attribution_queue_max) else { throw UsageError("attribution_queue_max must be 0...10000") }
        guard (100...600_000).contains(x402_commit_wait_ms) else { throw UsageError("x402_commit_wait_ms must be 100...600000") }
        guard price_per_token >= 0, price_per_prompt_token >= 0 else { throw UsageError("price_per_token and price_per_prompt_token must be at least 0") }
        guard attribution_proofs_bytes_max >= 1_024 else { throw UsageError("attribution_proofs_bytes_max must be at least 1024") }
        guard adapter_budget_bytes >= 1 << 20 else { throw UsageError("adapter_budget_bytes must be at least 1 MiB") }
        guard (1...Block.maxTransactions).contains(block_transactions_max) else {
            throw UsageError("block_transactions_max must be 1...\(Block.maxTransactions)")
        }
        guard (1_024...(64 << 20)).contains(http_body_max_bytes) else { throw UsageError("http_body_max_bytes must be 1024...67108864") }
        guard (2...65_536).contains(http_connections_max) else { throw UsageError("http_connections_max must be 2...65536") }
        guard (1..<http_connections_max).contains(http_inference_connections_max) else {
            throw UsageError("http_inference_connections_max must be 1...http_connections_max - 1 (\(http_connections_max - 1))")
        }
        guard (100...3_600_000).contains(http_header_timeout_ms), (http_header_timeout_ms...3_600_000).contains(http_request_timeout_ms) else {
            throw UsageError("http_header_timeout_ms must be 100...3600000 and http_request_timeout_ms at least it (and at most 3600000)")
        }
        guard (1...http_body_max_bytes).contains(document_bytes_max) else {
            throw UsageError("document_bytes_max must be 1...http_body_max_bytes (\(http_body_max_bytes))")
        }
        guard mempool_transactions_max > 0, mempool_bytes_max > 0, mempool_per_account_max > 0 else {
            throw UsageError("mempool limits must be positive")
        }
        for (name, value) in [("timeout_propose_ms", timeout_propose_ms), ("timeout_prevote_ms", timeout_prevote_ms),
                              ("timeout_precommit_ms", timeout_precommit_ms)] where !(1...600_000).contains(value) {
            throw UsageError("\(name) must be 1...600000")
        }
        var consensus = ConsensusConfig()
        consensus.commitDelayMs = UInt64(block_interval_ms)
        consensus.proposeTimeoutMs = UInt64(timeout_propose_ms)
        consensus.prevoteTimeoutMs = UInt64(timeout_prevote_ms)
        consensus.precommitTimeoutMs = UInt64(timeout_precommit_ms)
        consensus.createEmptyBlocks = create_empty_blocks
        return (address, Logger(format: format, level: level),
                Mempool.Limits(transactionsMax: mempool_transactions_max, bytesMax: mempool_bytes_max,
                               perAccountMax: mempool_per_account_max),
                consensus)
    }
}
