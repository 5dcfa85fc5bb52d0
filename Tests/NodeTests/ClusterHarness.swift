import Crypto
import Foundation
import Ledger
import Testing

/// The suites that start clusters of node processes. They run one at a time: two clusters at
/// once on a 2-core machine starve each other's nodes past the tests' time limits.
@Suite(.serialized) enum ClusterSuites {}

/// A network of validator processes made by `tributary testnet`, on loopback: start, SIGKILL,
/// SIGSTOP/SIGCONT and restart any node; send transfers; compare the nodes' chains.
final class Cluster {
    let directory: String
    let basePort: UInt16
    let size: Int
    let chainID = "localnet"
    /// An account funded at genesis that the tests send from.
    let sender = SigningKey()
    private(set) var nextNonce: UInt64 = 0
    private var processes: [NodeProcess?]
    /// Homes, HTTP ports and `start` arguments of nodes added after the validators (`addFullNode`).
    private var addedNodes: [(home: String, port: UInt16, arguments: [String])] = []
    private let settings: [String: Any]

    static let timeouts: [String: Int] = ["timeout_propose_ms": 1_000, "timeout_prevote_ms": 500, "timeout_precommit_ms": 500]

    /// Makes the homes (`testnetArguments` added to `tributary testnet`'s), shortens the
    /// consensus timeouts (`settings` is merged into every config.json) and starts every node.
    init(validators: Int = 4, settings: [String: Any] = [:], testnetArguments: [String] = []) throws {
        size = validators
        self.settings = settings
        directory = Tributary.temporaryDirectory("cluster")
        basePort = Tributary.freePortRange(2 * validators)
        processes = Array(repeating: nil, count: validators)
        let made = try Tributary.run([
            "testnet", "--validators", String(validators), "--out", directory + "/net", "--chain-id", chainID,
            "--base-port", String(basePort), "--fund", "\(sender.publicKey.hex)=1000000", "--block-interval-ms", "50",
        ] + testnetArguments)
        guard made.status == 0 else { throw HarnessError("testnet failed: \(made.stderr)") }
        for index in 0..<validators { try adjustConfig(home: home(index)) }
        for index in 0..<validators { try start(index) }
    }

    private func adjustConfig(home: String) throws {
        let path = home + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        config.merge(Self.timeouts) { _, new in new }
        config.merge(settings) { _, new in new }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
    }

    /// Makes a home that joins the chain (`tributary init --genesis`) with the nodes `peers`
    /// as its persistent peers and `seeds` as its seeds, and starts it (with `arguments` added
    /// to `tributary start`'s); returns its index. Its key is `key` when given, else a new one.
    func addFullNode(peers: [Int], seeds: [Int] = [], key: String? = nil, arguments: [String] = []) throws -> Int {
        let index = processes.count
        let home = directory + "/node\(index)"
        let port = Tributary.freePortRange(2)
        func list(_ nodes: [Int]) throws -> String {
            try nodes.map { try nodeID($0).hex + "@127.0.0.1:\(p2pPort($0))" }.joined(separator: ",")
        }
        let made = try Tributary.run([
            "init", "--home", home, "--genesis", self.home(0) + "/genesis.json", "--peers", try list(peers), "--seeds", try list(seeds),
            "--validator-key", key ?? home + "/validator.key", "--http-address", "127.0.0.1:\(port)",
            "--p2p-address", "127.0.0.1:\(port + 1)", "--block-interval-ms", "50",
        ])
        guard made.status == 0 else { throw HarnessError("init --genesis failed: \(made.stderr)") }
        try adjustConfig(home: home)
        addedNodes.append((home, port, arguments))
        processes.append(nil)
        try start(index)
        return index
    }

    deinit {
        for process in processes { process?.stop(signal: SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func home(_ index: Int) -> String { index < size ? directory + "/net/node\(index)" : addedNodes[index - size].home }
    func httpPort(_ index: Int) -> UInt16 { index < size ? basePort + UInt16(2 * index) : addedNodes[index - size].port }
    func p2pPort(_ index: Int) -> UInt16 { httpPort(index) + 1 }
    func url(_ index: Int) -> String { "http://127.0.0.1:\(httpPort(index))" }
    func node(_ index: Int) -> NodeProcess? { processes[index] }

    var manifest: [String: Any] {
        get throws {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/net/testnet.json"))) as! [String: Any]
        }
    }

    func start(_ index: Int) throws {
        processes[index] = try NodeProcess(home: home(index), port: httpPort(index), p2pAddress: nil, extraArguments: index < size ? [] : addedNodes[index - size].arguments)
    }

    /// SIGKILL: the node loses everything not on disk.
    func kill(_ index: Int) {
        processes[index]?.stop(signal: SIGKILL)
        processes[index] = nil
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) without waiting for the process to end.
    func signal(_ index: Int, _ signal: Int32) {
        if let pid = processes[index]?.pid { Foundation.kill(pid, signal) }
    }

    /// Stops every node with SIGINT; returns their exit statuses.
    func stopAll() -> [Int32] {
        defer { processes = Array(repeating: nil, count: processes.count) }
        return processes.compactMap { $0?.stop(signal: SIGINT) }
    }

    func status(_ index: Int) throws -> [String: Any] { try HTTP.get("\(url(index))/v1/status").json }
    func height(_ index: Int) throws -> Int { try status(index)["height"] as! Int }

    /// A transfer from `sender` with the next nonce.
    func signTransfer(amount: UInt64 = 1_000, to receiver: Address = SigningKey().publicKey) -> SignedTransaction {
        defer { nextNonce += 1 }
        return Transaction(sender: sender.publicKey, nonce: nextNonce, fee: 1_000, body: .transfer(to: receiver, amount: amount))
            .signed(by: sender, chainID: chainID)
    }

    /// Signs a transfer from `sender` with the next nonce and submits it to node `index`.
    @discardableResult
    func transfer(via index: Int, amount: UInt64 = 1_000, to receiver: Address = SigningKey().publicKey) throws -> String {
        try submit(signTransfer(amount: amount, to: receiver), via: index)
    }

    /// Submits a signed transaction to node `index`; returns its hash.
    @discardableResult
    func submit(_ transaction: SignedTransaction, via index: Int) throws -> String {
        let answer = try HTTP.post("\(url(index))/v1/txs", json: transaction.submission)
        guard answer.status == 202 else { throw HarnessError("node \(index) refused a transaction: \(answer.status) \(answer.json)") }
        return transaction.hash.hex
    }

    /// The value of a counter or gauge in node `index`'s `/metrics` (0 when absent).
    func metric(_ index: Int, _ sample: String) throws -> UInt64 {
        let text = String(decoding: try HTTP.get("\(url(index))/metrics").body, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return UInt64(line.split(separator: " ").last!) ?? 0
        }
        return 0
    }

    /// The node id of node `index` (from testnet.json).
    func nodeID(_ index: Int) throws -> PublicKey {
        let nodes = try manifest["nodes"] as! [[String: Any]]
        return PublicKey(hex: String((nodes[index]["p2p"] as! String).prefix(64)))!
    }

    /// Waits until `hash` is committed on each of `nodes`; returns its height.
    @discardableResult
    func waitCommitted(_ hash: String, on nodes: [Int], timeoutSeconds: Double = 30) throws -> Int {
        var height = 0
        try waitUntil("transaction \(hash.prefix(12)) committed on nodes \(nodes)", timeoutSeconds: timeoutSeconds) {
            for index in nodes {
                let answer = try HTTP.get("\(url(index))/v1/txs/\(hash)").json
                guard answer["status"] as? String == "committed" else { return false }
                height = answer["height"] as! Int
            }
            return true
        }
        return height
    }

    func waitUntil(_ what: String, timeoutSeconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("timed out after \(timeoutSeconds) s waiting for \(what)")
    }

    /// The block hash, app hash and certificate round of every height up to `height` on node
    /// `index`.
    func chain(of index: Int, upTo height: Int) throws -> [(hash: String, appHash: String, round: Int)] {
        guard height >= 1 else { return [] }
        return try (1...height).map { blockHeight in
            let block = try HTTP.get("\(url(index))/v1/blocks/\(blockHeight)").json
            let header = block["header"] as! [String: Any]
            let certificate = block["certificate"] as! [String: Any]
            return (block["hash"] as! String, header["app_hash"] as! String, certificate["round"] as! Int)
        }
    }

    /// Throws unless `nodes` hold the same block and app hash at every height they share.
    func expectSameChain(_ nodes: [Int]) throws -> [(hash: String, appHash: String, round: Int)] {
        let common = try nodes.map(height).min() ?? 0
        let reference = try chain(of: nodes[0], upTo: common)
        for index in nodes.dropFirst() {
            let other = try chain(of: index, upTo: common)
            for (height, (a, b)) in zip(reference, other).enumerated() where a.hash != b.hash || a.appHash != b.appHash {
                throw HarnessError("node \(index) differs from node \(nodes[0]) at height \(height + 1): \(b.hash) vs \(a.hash)")
            }
        }
        return reference
    }
}
