import Crypto
import Dispatch
import Foundation
import Inference
import Ledger

/// `tributary start`: runs a node until SIGINT or SIGTERM.
enum StartCommand {
    static let spec = CommandSpec(
        path: ["start"],
        summary: "Run a node: consensus and the HTTP API. Ctrl-C stops it cleanly.",
        discussion: """
        Settings come from <home>/config.json, overridden by TRIBUTARY_HTTP_ADDRESS,
        TRIBUTARY_P2P_ADDRESS, TRIBUTARY_EXTERNAL_ADDRESS, TRIBUTARY_PERSISTENT_PEERS, TRIBUTARY_SEEDS,
        TRIBUTARY_BLOCK_INTERVAL_MS, TRIBUTARY_LOG_FORMAT, TRIBUTARY_LOG_LEVEL, overridden by flags.
        The node listens for peers on p2p_address and stays connected to persistent_peers; with pex
        on (the default) it also learns addresses from its peers (<home>/addrbook.json), dials
        them up to outbound_peers_max, and asks the seeds when it knows none.
        A node with peers catches up by block sync first (its progress logged every 2 s), then
        follows consensus.
        """,
        options: [
            .init(name: "home", value: "DIR", help: "Node home (default $TRIBUTARY_HOME or ~/.tributary)."),
            .init(name: "http-address", value: "HOST:PORT", help: "Where the HTTP API listens."),
            .init(name: "p2p-address", value: "HOST:PORT", help: "Where peers connect (default 0.0.0.0:26656)."),
            .init(name: "external-address", value: "HOST:PORT", help: "The address peers should dial, if not p2p-address."),
            .init(name: "persistent-peers", value: "ID@HOST:PORT,...", help: "Peers to stay connected to."),
            .init(name: "seeds", value: "ID@HOST:PORT,...", help: "Peers to ask for addresses when the address book has none."),
            .init(name: "block-interval-ms", value: "MS", help: "How often a block is produced when transactions wait."),
            .init(name: "log-format", value: "human|json", help: "Log line format on stderr."),
            .init(name: "log-level", value: "LEVEL", help: "debug, info, warning or error."),
            .init(name: "serve-model", value: "PATH", help: "Also serve a model over the OpenAI-style API: the default model, or the GGUF file / Hugging Face directory PATH.", valueIsOptional: true),
            .init(name: "inference-threads", value: "N", help: "Threads of the served model (default: every core)."),
            .init(name: "inference-activations", value: "f32|int8", help: "Activation precision of the served model: f32 (default, matches the reference) or int8 (faster decode, approximate)."),
            .init(name: "price-per-token", value: "UNITS", help: "Atomic units of OPEN per generated token of the base model; completions then need x402 payment (default 0: free)."),
            .init(name: "price-per-prompt-token", value: "UNITS", help: "Atomic units of OPEN per prompt token of paid completions (default 0)."),
            .init(name: "x402-settlement", value: "commit|pending", help: "Answer a paid request after its settlement commits (default; the receipt names the height) or once the mempool accepts it (settlement_pending)."),
        ]
    ) { arguments in
        let home = NodeHome(arguments: arguments)
        var config = try NodeConfig.load(home: home.path)
        if let value = arguments.value("http-address") { config.http_address = value }
        if let value = arguments.value("p2p-address") { config.p2p_address = value }
        if let value = arguments.value("external-address") { config.external_address = value }
        if let value = arguments.value("persistent-peers") { config.persistent_peers = value }
        if let value = arguments.value("seeds") { config.seeds = value }
        if let value = arguments.value("log-format") { config.log_format = value }
        if let value = arguments.value("log-level") { config.log_level = value }
        if let value = arguments.value("inference-activations") { config.inference_activations = value }
        if let value = arguments.value("x402-settlement") { config.x402_settlement = value }
        config.price_per_token = try arguments.integer("price-per-token", default: config.price_per_token, in: 0...Int.max)
        config.price_per_prompt_token = try arguments.integer("price-per-prompt-token", default: config.price_per_prompt_token, in: 0...Int.max)
        guard let settlementMode = PaymentSettler.Mode(rawValue: config.x402_settlement) else {
            throw UsageError("x402_settlement must be commit or pending, not '\(config.x402_settlement)'")
        }
        config.block_interval_ms = try arguments.integer("block-interval-ms", default: config.block_interval_ms, in: 1...3_600_000)
        let (address, log, mempoolLimits, consensus) = try config.validated()

        let chainID = try home.genesis().chainID
        let network = try config.network(chainID: chainID)
        let nodeKey = try home.nodeKey(config, log: log)
        let discovery = config.pex ? try PeerDiscovery(nodeKey: nodeKey, chainID: chainID, seeds: network.seeds,
                                                       advertised: network.advertised, file: AddressBookFile(path: home.file("addrbook.json"))) : nil
        let store = try home.openStore()
        let node = try ChainNode(
            store: store, validatorKey: try home.validatorKey(config), mempoolLimits: mempoolLimits,
            blockTransactionsMax: config.block_transactions_max, consensus: consensus, walPath: home.walPath,
            network: .init(nodeKey: nodeKey, transport: network.transport, persistentPeers: network.persistentPeers,
                           banMs: UInt64(config.peer_ban_ms), banFile: PeerBanFile(path: home.file("peer_bans.json")),
                           discovery: discovery), log: log)
        let documentsAPI = DocumentsAPI(node: node, documents: try DocumentStore(path: home.documentsPath),
                                        documentBytesMax: config.document_bytes_max)
        let service = try serveModel(arguments, config: config, nodeKey: nodeKey, chainID: chainID, log: log)
        defer { service?.stop() }
        let api = ChainAPI(node: node, documentBytesMax: config.document_bytes_max, servingLoad: service.map { service -> @Sendable () -> (queued: Int, running: Int) in { service.scheduler.load } })
        let settler = PaymentSettler(node: node, mode: settlementMode, commitWaitSeconds: Double(config.x402_commit_wait_ms) / 1_000)
        // Free unless a price is set here or an adapter was registered with one.
        let policy = PricedServingPolicy(settler: settler, pricePerToken: UInt64(config.price_per_token), pricePerPromptToken: UInt64(config.price_per_prompt_token))
        let completions = service.map { CompletionsAPI(service: $0, policy: policy) }
        let adapterAPI = service.map { AdaptersAPI(service: $0, adminToken: config.admin_token) }
        let x402API = X402API(settler: settler)
        var router = HTTPRouter()
        api.register(in: &router)
        documentsAPI.register(in: &router)
        x402API.register(in: &router)
        adapterAPI?.register(in: &router)
        completions?.register(in: &router, budget: ConnectionBudget(connectionsMax: config.http_inference_connections_max))
        let limits = HTTPServer.Limits(
            bodyMaxBytes: config.http_body_max_bytes, connectionsMax: UInt32(config.http_connections_max),
            headerTimeoutMs: config.http_header_timeout_ms, requestTimeoutMs: config.http_request_timeout_ms)
        let server = try HTTPServer(address: address, limits: limits) { [router] request in
            let response = router.handle(request)
            node.metrics.countResponse(status: response.status)
            return response
        }
        let status = node.status
        log.info("node started", [
            "chain_id": status.chainID, "height": status.height, "app_hash": status.appHash.hex.prefix(16),
            "validator": node.validatorKey.publicKey.hex, "node_id": nodeKey.publicKey.hex, "http": "http://\(address)",
            "p2p": config.p2p_address, "external_address": config.external_address.isEmpty ? config.p2p_address : config.external_address,
            "persistent_peers": network.persistentPeers.count, "seeds": network.seeds.count, "pex": config.pex,
        ])
        print("HTTP API listening on http://\(address)")
        print("node \(nodeKey.publicKey.hex) listening for peers on \(config.p2p_address)")
        fflush(nil)

        // The node (with its store) must be released on this thread, before the process exits:
        // RocksDB closed on a dispatch thread during exit aborts. So the handlers hold the node
        // weakly, and the cancel handlers, which run once a handler in flight has returned (and
        // let go of the node), are waited for.
        let handlersDone = DispatchGroup()
        let signalSources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak node] in node?.shutdown() }
            handlersDone.enter()
            source.setCancelHandler { handlersDone.leave() }
            source.resume()
            return source
        }
        defer {
            signalSources.forEach { $0.cancel() }
            handlersDone.wait()
        }

        // Generation stops first: its streams end at once, so the server's wait for its
        // connection threads is short. (The earlier `service?.stop()` covers failures before
        // here; stopping twice is harmless.)
        defer {
            service?.stop()
            server.stop()
        }
        try node.run()
        log.info("node stopped", ["height": node.status.height])
    }

    /// The model service `--serve-model` (or `serve_model` in the config) asks for, if any.
    static func serveModel(_ arguments: ParsedArguments, config: NodeConfig, nodeKey: SigningKey, chainID: String, log: Logger) throws -> ModelService? {
        let path: String
        if let given = arguments.value("serve-model") {
            path = (given as NSString).expandingTildeInPath
        } else if arguments.flag("serve-model") || config.serve_model == "default" {
            path = ModelCommands.modelPath(arguments)
        } else if !config.serve_model.isEmpty {
            path = (config.serve_model as NSString).expandingTildeInPath
        } else {
            return nil
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no model at \(path); run 'tributary model fetch' or pass --serve-model PATH")
        }
        var limits = GenerationScheduler.Limits()
        limits.runningSequencesMax = config.serving_sequences_max
        limits.queuedRequestsMax = config.serving_queue_max
        limits.maxTokensMax = config.serving_max_tokens_max
        let threads = try arguments.integer("inference-threads", default: config.inference_threads > 0 ? config.inference_threads : ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
        let activations = try config.activationPrecision()
        let service = try ModelService(
            path: path, threads: threads, activations: activations, limits: limits, adapterBudgetBytes: config.adapter_budget_bytes,
            adapterDirectory: NodeHome(arguments: arguments).file("adapters"), attributionQueueMax: config.attribution_queue_max,
            attributionKey: nodeKey, chainID: chainID,
            proofs: try AttributionProofStore(directory: NodeHome(arguments: arguments).file("attributions"), bytesMax: config.attribution_proofs_bytes_max), log: log)
        log.info("serving model", ["model": service.name, "path": path, "threads": threads, "activations": service.scheduler.engine.activations.rawValue, "adapters": service.adapters.adapters.count])
        print("OpenAI-style API: model \(service.name) and \(service.adapters.adapters.count) adapter(s) at /v1/completions and /v1/chat/completions")
        return service
    }
}
