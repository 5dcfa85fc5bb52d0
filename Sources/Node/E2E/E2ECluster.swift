import Crypto
import Foundation
import Gossip
import Ledger

/// The nodes of an e2e run as real processes of this executable: validators from `tributary
/// testnet` homes, full nodes and the twin from `tributary init --genesis`, each in its own
/// network namespace (or all on loopback). Started, SIGKILLed, restarted, paused, resumed;
/// links cut and healed.
final class E2ECluster {
    struct Node {
        let name: String
        let home: String
        let http: String
        /// The validator key's address (the twin shares its validator's).
        let validator: Address
    }

    let manifest: E2EManifest
    let directory: String
    let chainID = "e2e"
    /// Accounts funded at genesis for the workload.
    let accounts: [SigningKey]
    private(set) var nodes: [Node] = []
    private let network: NetworkNamespaces?
    /// Guards `processes` and `paused`: the workload thread asks which nodes are up while the
    /// schedule starts and stops them.
    private let lock = NSLock()
    private var processes: [Int: Process] = [:]
    private var paused: Set<Int> = []

    /// Settings every node gets unless the manifest's `[node]` says otherwise: short timeouts,
    /// and a peer that stays silent (cut off) is dropped and redialed within seconds.
    static let defaultSettings: [String: Int] = [
        "timeout_propose_ms": 1_000, "timeout_prevote_ms": 500, "timeout_precommit_ms": 500, "block_interval_ms": 50,
        "peer_timeout_ms": 3_000, "ping_interval_ms": 1_000, "handshake_timeout_ms": 2_000,
    ]
    static let accountBalanceOPEN: UInt64 = 1_000_000

    /// Makes the homes (and namespaces) of every node, the twin's included; starts nothing.
    init(manifest: E2EManifest, directory: String) throws {
        self.manifest = manifest
        self.directory = directory
        accounts = (0..<manifest.accounts).map { _ in SigningKey() }
        let count = manifest.nodeCount + (manifest.twin == nil ? 0 : 1)
        if manifest.isolation == .netns {
            let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
            network = NetworkNamespaces(prefix: "t" + tag, subnet: UInt8.random(in: 100...250))
            try network!.create(count: count)
        } else {
            network = nil
        }
        do { try makeHomes(count: count) } catch {
            network?.remove()
            throw error
        }
    }

    private func host(_ index: Int) -> String { network?.address(index) ?? "127.0.0.1" }

    private func makeHomes(count: Int) throws {
        let base = network == nil ? try LocalCluster.freePortRange(2 * count) : 26_600
        let created = try TestnetCommand.create(
            validators: manifest.validators, out: directory + "/net", chainID: chainID, basePort: base,
            host: network == nil ? "127.0.0.1" : "10.\(network!.subnet).1.{i}", power: 10_000,
            allocations: accounts.map { .init(address: $0.publicKey, amount: Self.accountBalanceOPEN * OPEN.atomicUnitsPerOPEN) })
        nodes = created.members.map { Node(name: $0.name, home: $0.home.path, http: $0.http, validator: $0.validator) }
        let peers = created.members.map(\.peer.description).joined(separator: ",")
        for index in manifest.validators..<count {
            let isTwin = index == manifest.nodeCount
            let name = isTwin ? "twin\(manifest.twin!.validator)" : "full\(index - manifest.validators)"
            let home = directory + "/" + name
            let port = base + 2 * index
            let keyPath = home + "/validator.key"
            if isTwin {  // the same validator key as its validator; a node key of its own
                try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: nodes[manifest.twin!.validator].home + "/validator.key", toPath: keyPath)
            }
            try Subprocess.run(Subprocess.tributary, ["init", "--home", home, "--genesis", nodes[0].home + "/genesis.json", "--peers", peers,
                     "--validator-key", keyPath, "--http-address", "\(host(index)):\(port)", "--p2p-address", "\(host(index)):\(port + 1)"])
            nodes.append(Node(name: name, home: home, http: "http://\(host(index)):\(port)",
                              validator: try KeyFile.read(from: keyPath).publicKey))
        }
        let settings = (Self.defaultSettings as [String: Any]).merging(manifest.nodeSettings) { _, manifest in manifest }
        for node in nodes {
            let path = node.home + "/config.json"
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            config.merge(settings) { _, new in new }
            try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
        }
    }

    // MARK: Processes

    /// Starts node `index` (its log appended to `<home>/node.log`).
    func start(_ index: Int) throws {
        precondition(lock.withLock { processes[index] } == nil, "node \(index) already runs")
        let logPath = nodes[index].home + "/node.log"
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        let process = Process()
        let command = [Subprocess.tributary.path, "start", "--home", nodes[index].home]
        let wrapped = network?.wrap(index, command) ?? command
        process.executableURL = URL(fileURLWithPath: wrapped[0])
        process.arguments = Array(wrapped.dropFirst())
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { processes[index] = process }
    }

    var running: [Int] { lock.withLock { processes.keys.sorted() } }
    func isUp(_ index: Int) -> Bool { lock.withLock { processes[index] != nil && !paused.contains(index) } }

    /// Takes node `index`'s process out of the running set, resumed if it was paused.
    private func takeProcess(_ index: Int) -> Process? {
        let (process, wasPaused) = lock.withLock { (processes.removeValue(forKey: index), paused.remove(index) != nil) }
        if let process, wasPaused { Foundation.kill(process.processIdentifier, SIGCONT) }
        return process
    }

    /// SIGKILL: the node loses everything not on disk.
    func kill(_ index: Int) {
        guard let process = takeProcess(index) else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGINT and wait: a clean stop; returns the exit status.
    @discardableResult
    func stop(_ index: Int) -> Int32 {
        guard let process = takeProcess(index) else { return 0 }
        process.interrupt()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func pause(_ index: Int) {
        guard let process = lock.withLock({ paused.insert(index).inserted ? processes[index] : nil }) else { return }
        Foundation.kill(process.processIdentifier, SIGSTOP)
    }

    func resume(_ index: Int) {
        guard let process = lock.withLock({ paused.remove(index) != nil ? processes[index] : nil }) else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
    }

    func cut(_ a: Int, _ b: Int) throws { try network!.cut(a, b) }
    func heal(_ a: Int, _ b: Int) throws { try network!.heal(a, b) }

    /// Stops every node (SIGKILL for any that does not stop within 10 s) and removes the namespaces.
    func tearDown() {
        let all = running.compactMap(takeProcess)
        for process in all { process.interrupt() }
        let deadline = Date().addingTimeInterval(10)
        for process in all {
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        network?.remove()
    }

    // MARK: Reading nodes

    func get(_ index: Int, _ path: String, session: HTTPClient.Session? = nil) throws -> [String: Any] {
        let response = try HTTPClient.send("GET", nodes[index].http + path, session: session)
        guard let object = response.json else { throw CommandError("\(nodes[index].name) \(path): not JSON (HTTP \(response.status))") }
        return object
    }

    func height(_ index: Int) throws -> Int { try get(index, "/v1/status")["height"] as? Int ?? 0 }

    /// Waits until `condition` holds, checking every 50 ms, for at most `seconds`.
    func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CommandError("timed out after \(Int(seconds)) s waiting for \(what)")
    }
}
