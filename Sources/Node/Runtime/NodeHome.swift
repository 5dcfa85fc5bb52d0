import Crypto
import Foundation
import Ledger

/// A node's home directory: `config.json`, `genesis.json`, `validator.key`, `node.key` (its
/// peer-to-peer identity), `data/` (the RocksDB store), `documents/` (the off-chain document
/// store, `DocumentStore`) and `consensus.wal`.
struct NodeHome {
    let path: String

    init(_ path: String) {
        self.path = (path as NSString).expandingTildeInPath
    }

    /// `--home`, else `$TRIBUTARY_HOME`, else `~/.tributary`.
    init(arguments: ParsedArguments) {
        self.init(arguments.value("home") ?? ProcessInfo.processInfo.environment["TRIBUTARY_HOME"] ?? "~/.tributary")
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    var genesisPath: String { file("genesis.json") }
    var dataPath: String { file("data") }
    var walPath: String { file("consensus.wal") }
    var documentsPath: String { file("documents") }

    func genesis() throws -> Genesis {
        guard let data = FileManager.default.contents(atPath: genesisPath) else {
            throw CommandError("no genesis at \(genesisPath); run 'tributary init --home \(path) …' first")
        }
        return try Genesis(json: data)
    }

    /// The validator key named by the config, relative to the home unless absolute.
    func validatorKey(_ config: NodeConfig) throws -> SigningKey {
        let keyPath = config.validator_key.hasPrefix("/") ? config.validator_key : file(config.validator_key)
        return try KeyFile.read(from: keyPath)
    }

    /// The node key named by the config (relative to the home unless absolute), created when
    /// missing: the node's identity among peers, apart from the validator key.
    func nodeKey(_ config: NodeConfig, log: Logger? = nil) throws -> SigningKey {
        let keyPath = config.node_key.hasPrefix("/") ? config.node_key : file(config.node_key)
        if !FileManager.default.fileExists(atPath: keyPath) {
            let key = SigningKey()
            try KeyFile.write(key, to: keyPath)
            log?.info("created node key", ["path": keyPath, "node_id": key.publicKey.hex])
            return key
        }
        return try KeyFile.read(from: keyPath)
    }

    /// Opens the store and writes the genesis state on first start.
    func openStore() throws -> ChainStore {
        let genesis = try genesis()
        try FileManager.default.createDirectory(atPath: dataPath, withIntermediateDirectories: true)
        let store = try ChainStore(path: dataPath)
        try store.initialize(genesis: genesis)
        return store
    }
}
