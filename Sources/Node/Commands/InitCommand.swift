import Crypto
import Foundation
import Ledger

/// `tributary init`: a node home with a genesis, a config, the validator key and the node key.
enum InitCommand {
    static let spec = CommandSpec(
        path: ["init"],
        summary: "Create a node home: genesis.json, config.json, the validator key and the node key.",
        discussion: """
        The validator key file is created when missing, then copied into the home as validator.key.
        A new node key (the node's identity among peers) is written to node.key.
        Amounts are in OPEN (decimals allowed); durations in seconds or with a unit: 90d, 36mo, 4y.
        Example: tributary init --home ./n0 --chain-id devnet --validator-key n0.key --fund <addr>=1000000
        To join an existing network, copy its genesis instead of making one; the node starts as a
        full node (block sync, then consensus) and becomes a validator once it stakes:
          tributary init --home ./n4 --genesis net/node0/genesis.json --peers <id>@127.0.0.1:26600 --validator-key n4.key
        """,
        options: [
            .init(name: "home", value: "DIR", help: "Node home to create (default $TRIBUTARY_HOME or ~/.tributary)."),
            .init(name: "genesis", value: "FILE", help: "Join the chain of this genesis.json instead of making one."),
            .init(name: "chain-id", value: "ID", help: "Chain id (default devnet)."),
            .init(name: "validator-key", value: "FILE", help: "This node's validator key; created if missing (required for a new chain; with --genesis, default <home>/validator.key)."),
            .init(name: "power", value: "N", help: "This validator's voting power = stake in whole OPEN (default 10000)."),
            .init(name: "validator", value: "ADDR=POWER", help: "Another genesis validator.", isRepeatable: true),
            .init(name: "fund", value: "ADDR=OPEN", help: "Credit an account at genesis.", isRepeatable: true),
            .init(name: "vest", value: "ADDR=OPEN,start=UNIX,cliff=DUR,duration=DUR",
                  help: "Credit tokens that unlock linearly after a cliff.", isRepeatable: true),
            .init(name: "min-fee", value: "OPEN", help: "Smallest transaction fee (default 0.000001)."),
            .init(name: "min-stake", value: "OPEN", help: "Smallest validator stake (default 1000)."),
            .init(name: "genesis-time", value: "UNIX", help: "Genesis time in unix seconds (default now)."),
            .init(name: "http-address", value: "HOST:PORT", help: "HTTP API address written to config.json (default 127.0.0.1:26657)."),
            .init(name: "block-interval-ms", value: "MS", help: "Block interval written to config.json (default 500)."),
            .init(name: "p2p-address", value: "HOST:PORT", help: "Where peers connect, written to config.json (default 0.0.0.0:26656)."),
            .init(name: "peers", value: "ID@HOST:PORT,...", help: "Persistent peers written to config.json."),
            .init(name: "seeds", value: "ID@HOST:PORT,...", help: "Seeds (asked for peer addresses) written to config.json."),
        ]
    ) { arguments in
        let home = NodeHome(arguments: arguments)
        guard !FileManager.default.fileExists(atPath: home.genesisPath) else {
            throw CommandError("\(home.genesisPath) already exists; refusing to overwrite a chain")
        }
        if let genesisPath = arguments.value("genesis") {
            let keyPath = arguments.value("validator-key") ?? home.file(NodeConfig().validator_key)
            return try join(genesisPath: genesisPath, home: home, keyPath: keyPath, arguments: arguments)
        }
        let keyPath = try arguments.required("validator-key")
        let power: UInt64 = try arguments.integer("power", default: 10_000, in: 1...1_000_000_000)
        var validators: [Genesis.Validator] = []
        for entry in arguments.allValues("validator") {
            let (address, value) = try splitAssignment(entry, option: "validator")
            guard let power = UInt64(value), power > 0 else { throw UsageError("--validator \(entry): power must be a positive whole number") }
            validators.append(.init(address: address, power: power))
        }
        var allocations: [Genesis.Allocation] = []
        for entry in arguments.allValues("fund") {
            let (address, value) = try splitAssignment(entry, option: "fund")
            allocations.append(.init(address: address, amount: try openAmount(value, option: "fund")))
        }
        let now = UInt64(Date().timeIntervalSince1970)
        var vesting: [Genesis.Vesting] = []
        for entry in arguments.allValues("vest") {
            vesting.append(try parseVesting(entry, defaultStart: now))
        }
        let config = try nodeConfig(arguments, chainID: arguments.value("chain-id") ?? "devnet", home: home)
        let keyExists = FileManager.default.fileExists(atPath: keyPath)
        let key = keyExists ? try KeyFile.read(from: keyPath) : SigningKey()
        validators.insert(Genesis.Validator(address: key.publicKey, power: power), at: 0)
        let parameters = ChainParameters(
            minFee: try openAmount(arguments.value("min-fee") ?? "0.000001", option: "min-fee"),
            minStake: try openAmount(arguments.value("min-stake") ?? "1000", option: "min-stake"))
        let genesis = Genesis(
            chainID: arguments.value("chain-id") ?? "devnet",
            genesisTime: try arguments.integer("genesis-time", default: now, in: 0...UInt64(UInt32.max) * 1000),
            parameters: parameters, validators: validators, allocations: allocations, vesting: vesting)
        let supply: UInt64
        do { supply = try genesis.validated() } catch { throw UsageError("\(error)") }

        // Everything is checked: only now touch the disk.
        try write(home: home, genesis: genesis, config: config, key: key, keyPath: keyPath, keyExists: keyExists)
        print("initialised \(home.path): chain \(genesis.chainID), validator \(key.publicKey.hex), node \(try home.nodeKey(config).publicKey.hex), supply \(OPEN.decimal(fromAtomicUnits: supply)) OPEN, genesis \(genesis.hash.hex)")
    }

    /// A home for a node that joins the chain of an existing genesis: only the node's own
    /// options apply (the chain's are in the genesis).
    private static func join(genesisPath: String, home: NodeHome, keyPath: String, arguments: ParsedArguments) throws {
        let chainOptions = ["chain-id", "power", "validator", "fund", "vest", "min-fee", "min-stake", "genesis-time"]
        if let given = chainOptions.first(where: { !arguments.allValues($0).isEmpty }) {
            throw UsageError("--\(given) describes a new chain; it cannot be given with --genesis")
        }
        guard let data = FileManager.default.contents(atPath: genesisPath) else { throw CommandError("cannot read \(genesisPath)") }
        let genesis: Genesis
        do {
            genesis = try Genesis(json: data)
            _ = try genesis.validated()
        } catch { throw CommandError("\(genesisPath): \(error)") }
        let config = try nodeConfig(arguments, chainID: genesis.chainID, home: home)
        let keyExists = FileManager.default.fileExists(atPath: keyPath)
        let key = keyExists ? try KeyFile.read(from: keyPath) : SigningKey()
        try write(home: home, genesis: genesis, config: config, key: key, keyPath: keyPath, keyExists: keyExists)
        let power = genesis.validators.first { $0.address == key.publicKey }?.power ?? 0
        print("initialised \(home.path): joins chain \(genesis.chainID) (genesis \(genesis.hash.hex)), validator key \(key.publicKey.hex) (genesis power \(power)), node \(try home.nodeKey(config).publicKey.hex)")
    }

    /// The node's own settings from the options, checked. A config.json already in the home
    /// (one mounted into a container's home, say) is kept: only the options given change it.
    private static func nodeConfig(_ arguments: ParsedArguments, chainID: String, home: NodeHome) throws -> NodeConfig {
        var config = try NodeConfig.load(home: home.path, environment: [:])
        if let address = arguments.value("http-address") { config.http_address = address }
        if let address = arguments.value("p2p-address") { config.p2p_address = address }
        if let peers = arguments.value("peers") { config.persistent_peers = peers }
        if let seeds = arguments.value("seeds") { config.seeds = seeds }
        config.block_interval_ms = try arguments.integer("block-interval-ms", default: config.block_interval_ms, in: 1...3_600_000)
        _ = try config.validated()
        _ = try config.network(chainID: chainID)
        return config
    }

    private static func write(home: NodeHome, genesis: Genesis, config: NodeConfig, key: SigningKey, keyPath: String, keyExists: Bool) throws {
        // The home's copy of the key is checked before any file is written: a clash found
        // later would leave a new key file behind.
        let homeKeyPath = home.file(config.validator_key)
        var copiesKey = (keyPath as NSString).standardizingPath != (homeKeyPath as NSString).standardizingPath
        if copiesKey, FileManager.default.fileExists(atPath: homeKeyPath) {
            guard try KeyFile.read(from: homeKeyPath).publicKey == key.publicKey else {
                throw CommandError("\(homeKeyPath) holds another validator key; remove it, or pass --validator-key \(homeKeyPath)")
            }
            copiesKey = false
        }
        try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
        if !keyExists {
            try KeyFile.write(key, to: keyPath)
            Output.note("created validator key \(keyPath) (address \(key.publicKey.hex))")
        }
        if copiesKey { try KeyFile.write(key, to: homeKeyPath) }
        try config.write(home: home.path)
        _ = try home.nodeKey(config)
        try genesis.json.write(to: URL(fileURLWithPath: home.genesisPath))
    }

    static func splitAssignment(_ entry: String, option: String) throws(UsageError) -> (Address, String) {
        let parts = entry.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let address = Address(hex: String(parts[0])) else {
            throw UsageError("--\(option) \(entry): expected <64-hex address>=<value>")
        }
        return (address, String(parts[1]))
    }

    static func openAmount(_ text: String, option: String) throws(UsageError) -> UInt64 {
        guard let amount = OPEN.atomicUnits(fromDecimal: text) else {
            throw UsageError("--\(option): '\(text)' is not an amount of OPEN (digits, at most 9 decimals)")
        }
        return amount
    }

    /// `ADDR=OPEN,start=UNIX,cliff=DUR,duration=DUR`.
    private static func parseVesting(_ entry: String, defaultStart: UInt64) throws(UsageError) -> Genesis.Vesting {
        let fields = entry.split(separator: ",").map(String.init)
        guard let first = fields.first else { throw UsageError("--vest needs ADDR=OPEN,start=UNIX,cliff=DUR,duration=DUR") }
        let (address, amountText) = try splitAssignment(first, option: "vest")
        var start = defaultStart
        var cliff: UInt64 = 0
        var duration: UInt64?
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw UsageError("--vest: '\(field)' must be key=value") }
            switch pair[0] {
            case "start":
                guard let value = UInt64(pair[1]) else { throw UsageError("--vest: start must be unix seconds") }
                start = value
            case "cliff": cliff = try seconds(pair[1])
            case "duration": duration = try seconds(pair[1])
            default: throw UsageError("--vest: unknown field '\(pair[0])' (start, cliff, duration)")
            }
        }
        guard let duration else { throw UsageError("--vest \(entry): duration is required") }
        return Genesis.Vesting(address: address, schedule: VestingSchedule(
            amount: try openAmount(amountText, option: "vest"), startTime: start, cliffSeconds: cliff, durationSeconds: duration))
    }

    /// Seconds from `90`, `90s`, `30d`, `36mo` (average Gregorian months) or `4y`.
    private static func seconds(_ text: String) throws(UsageError) -> UInt64 {
        let units: [(suffix: String, seconds: UInt64)] = [("mo", 2_629_746), ("y", 31_556_952), ("d", 86_400), ("s", 1), ("", 1)]
        for unit in units where text.hasSuffix(unit.suffix) {
            if let value = UInt64(text.dropLast(unit.suffix.count)) {
                let (total, overflow) = value.multipliedReportingOverflow(by: unit.seconds)
                if !overflow { return total }
            }
        }
        throw UsageError("'\(text)' is not a duration (seconds, or with unit s, d, mo, y)")
    }
}
