import Crypto
import Foundation
import Gossip
import Ledger

/// `tributary testnet`: the homes of a local multi-validator network, each node the others'
/// persistent peer, and `testnet.json` describing them.
enum TestnetCommand {
    static let spec = CommandSpec(
        path: ["testnet"],
        summary: "Create the homes of a local network of validators that peer with each other.",
        discussion: """
        Writes <out>/node0 … <out>/node<N-1> (genesis.json shared, config.json, validator.key,
        node.key) and <out>/testnet.json: {"chain_id", "nodes": [{"name", "home", "http", "p2p",
        "validator"}]}, where http is the node's API URL, p2p is <node id>@<host>:<port> and home
        is relative to <out>. Node i takes ports base+2i (HTTP) and base+2i+1 (peers). --host
        may contain {i}, replaced by the node's index (node{i} for containers named node0…).
        Every validator's account also holds 1000 OPEN to pay fees (evidence reports).
        --history-blocks N commits N blocks into every node's store before it first starts,
        proposed and certified with the validators' own keys (each with --history-transfers
        transfers among accounts funded for them): a chain for a new node to block-sync.
        Then: tributary start --home <out>/node0 (and each other node, each its own process).
        """,
        options: [
            .init(name: "validators", value: "N", help: "Validators, one node each (default 4)."),
            .init(name: "out", value: "DIR", help: "Folder for the homes and testnet.json (required)."),
            .init(name: "chain-id", value: "ID", help: "Chain id (default localnet)."),
            .init(name: "base-port", value: "PORT", help: "First port; each node takes two (default 26600)."),
            .init(name: "host", value: "HOST", help: "Address the nodes reach each other at (default 127.0.0.1)."),
            .init(name: "fund", value: "ADDR=OPEN", help: "Credit an account at genesis.", isRepeatable: true),
            .init(name: "power", value: "N", help: "Each validator's voting power = stake in whole OPEN (default 10000)."),
            .init(name: "block-interval-ms", value: "MS", help: "Block interval written to every config.json (default 500)."),
            .init(name: "history-blocks", value: "N", help: "Blocks of history committed before the nodes start (default 0)."),
            .init(name: "history-transfers", value: "K", help: "Transfers in each history block (default 0: empty blocks)."),
        ]
    ) { try run($0) }

    /// OPEN credited to each validator's account for fees.
    static let validatorBalanceOPEN: UInt64 = 1_000

    private static func run(_ arguments: ParsedArguments) throws {
        let count = try arguments.integer("validators", default: 4, in: 1...64)
        let out = ((try arguments.required("out")) as NSString).expandingTildeInPath
        var allocations: [Genesis.Allocation] = []
        for entry in arguments.allValues("fund") {
            let (address, value) = try InitCommand.splitAssignment(entry, option: "fund")
            allocations.append(.init(address: address, amount: try InitCommand.openAmount(value, option: "fund")))
        }
        let blockIntervalMs = try arguments.integer("block-interval-ms", default: NodeConfig().block_interval_ms, in: 1...3_600_000)
        let history = TestnetHistory(blocks: try arguments.integer("history-blocks", default: 0, in: 0...10_000_000),
                                     transfersPerBlock: try arguments.integer("history-transfers", default: 0, in: 0...Block.maxTransactions))
        let now = UInt64(Date().timeIntervalSince1970)
        let network = try create(
            validators: count, out: out, chainID: arguments.value("chain-id") ?? "localnet",
            basePort: try arguments.integer("base-port", default: 26_600, in: 1...(65_535 - 2 * count + 1)),
            host: arguments.value("host") ?? "127.0.0.1",
            power: try arguments.integer("power", default: 10_000, in: 1...1_000_000_000), allocations: allocations + history.allocations,
            genesisTime: history.blocks > 0 ? history.genesisTime(now: now) : now
        ) { $0.block_interval_ms = blockIntervalMs }
        print("created \(count) validator homes in \(out) (chain \(network.chainID), genesis \(network.genesisHash.hex))")
        if history.blocks > 0 {
            let keys = try network.members.map { member in try KeyFile.read(from: member.home.file(try NodeConfig.load(home: member.home.path, environment: [:]).validator_key)) }
            try history.write(into: network, validatorKeys: keys)
            print("committed \(history.blocks) history blocks of \(history.transfersPerBlock) transfers into every node's store")
        }
        for member in network.members {
            print("  \(member.name): \(member.http)  p2p \(member.peer.hostPort)  node \(member.peer.id.hex.prefix(16))…")
        }
        print("start each: tributary start --home \((out as NSString).appendingPathComponent("node<i>"))")
    }

    /// A network `create` wrote.
    struct Network {
        struct Member {
            let name: String
            let home: NodeHome
            /// The API URL.
            let http: String
            let peer: PeerAddress
            let validator: Address
        }

        let chainID: String
        let genesisHash: Digest
        let members: [Member]
    }

    /// Writes the homes and `testnet.json` of `validators` validators under `out`: one genesis
    /// (with `allocations`, and 1000 OPEN for each validator), keys, and configs that `adjust`
    /// may change before they are checked and written.
    static func create(validators count: Int, out: String, chainID: String, basePort: Int, host hostPattern: String,
                       power: UInt64, allocations extra: [Genesis.Allocation], genesisTime: UInt64 = UInt64(Date().timeIntervalSince1970),
                       adjust: (inout NodeConfig) -> Void = { _ in }) throws -> Network {
        guard chainID.utf8.count <= SigningDomain.chainIDMaxBytes, !chainID.isEmpty else {
            throw UsageError("--chain-id must be 1...\(SigningDomain.chainIDMaxBytes) bytes")
        }
        let manifestPath = (out as NSString).appendingPathComponent("testnet.json")
        guard !FileManager.default.fileExists(atPath: manifestPath) else {
            throw CommandError("\(manifestPath) already exists; refusing to overwrite a network")
        }

        struct Member {
            let name: String
            let home: NodeHome
            let host: String
            let httpPort: Int
            let p2pPort: Int
            let validatorKey = SigningKey()
            let nodeKey = SigningKey()
            var peer: PeerAddress { PeerAddress(id: nodeKey.publicKey, host: host, port: UInt16(p2pPort)) }
            var http: String { "http://\(host):\(httpPort)" }
        }
        let members = (0..<count).map { index in
            Member(name: "node\(index)", home: NodeHome((out as NSString).appendingPathComponent("node\(index)")),
                   host: hostPattern.replacingOccurrences(of: "{i}", with: String(index)),
                   httpPort: basePort + 2 * index, p2pPort: basePort + 2 * index + 1)
        }
        for member in members where !Self.isHostName(member.host) {
            throw UsageError("--host: '\(member.host)' is neither an IPv4 address nor a host name (IPv6 is not supported)")
        }
        for member in members where FileManager.default.fileExists(atPath: member.home.path) {
            throw CommandError("\(member.home.path) already exists; refusing to overwrite a node home")
        }

        let allocations: [Genesis.Allocation] = members.map {
            .init(address: $0.validatorKey.publicKey, amount: validatorBalanceOPEN * OPEN.atomicUnitsPerOPEN)
        } + extra
        let genesis = Genesis(
            chainID: chainID, genesisTime: genesisTime,
            parameters: ChainParameters(minFee: try InitCommand.openAmount("0.000001", option: "min-fee"),
                                        minStake: try InitCommand.openAmount("1000", option: "min-stake")),
            validators: members.map { .init(address: $0.validatorKey.publicKey, power: power) },
            allocations: allocations, vesting: [])
        do { _ = try genesis.validated() } catch { throw UsageError("\(error)") }

        var configs: [NodeConfig] = []
        for member in members {
            var config = NodeConfig()
            let listenHost = Self.isIPv4(member.host) ? member.host : "0.0.0.0"
            config.http_address = "\(listenHost):\(member.httpPort)"
            config.p2p_address = "\(listenHost):\(member.p2pPort)"
            config.external_address = member.peer.hostPort
            config.persistent_peers = members.filter { $0.name != member.name }.map(\.peer.description).joined(separator: ",")
            adjust(&config)
            _ = try config.validated()
            _ = try config.network(chainID: chainID)
            configs.append(config)
        }

        // Everything is checked: only now touch the disk.
        for (member, config) in zip(members, configs) {
            try FileManager.default.createDirectory(atPath: member.home.path, withIntermediateDirectories: true)
            try KeyFile.write(member.validatorKey, to: member.home.file(config.validator_key))
            try KeyFile.write(member.nodeKey, to: member.home.file(config.node_key))
            try config.write(home: member.home.path)
            try genesis.json.write(to: URL(fileURLWithPath: member.home.genesisPath))
        }
        let manifest: [String: Any] = [
            "chain_id": chainID,
            "nodes": members.map { member -> [String: Any] in
                ["name": member.name, "home": member.name, "http": member.http, "p2p": member.peer.description,
                 "validator": member.validatorKey.publicKey.hex]
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try data.write(to: URL(fileURLWithPath: manifestPath))
        return Network(chainID: chainID, genesisHash: genesis.hash, members: members.map {
            .init(name: $0.name, home: $0.home, http: $0.http, peer: $0.peer, validator: $0.validatorKey.publicKey)
        })
    }

    /// An IPv4 literal, or a DNS name: dot-separated labels of letters, digits and inner
    /// hyphens, each 1–63 bytes, 253 in all.
    private static func isHostName(_ host: String) -> Bool {
        if isIPv4(host) { return true }
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" }
        }
    }

    private static func isIPv4(_ host: String) -> Bool {
        var probe = in_addr()
        return inet_pton(AF_INET, host, &probe) == 1
    }
}
