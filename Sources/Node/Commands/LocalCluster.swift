import Crypto
import Foundation
import Gossip
import Ledger
import Synchronization

/// Four validator processes of this executable on loopback, for `bench network` and `bench
/// sync`: started from testnet homes (with a history, if asked), fed transfers over HTTP, read
/// through `/metrics` and `/v1/blocks`; a full node can join them.
final class LocalCluster {
    static let size = 4

    /// What one node's `/metrics` says about gossip.
    struct Counters {
        var committed: UInt64 = 0
        /// Every byte on the peer wire received, handshakes included.
        var bytesReceived: UInt64 = 0
        var itemsReceived: [Channel: UInt64] = [:]
        var itemsAccepted: [Channel: UInt64] = [:]
        /// Time the consensus thread spent proposing, executing and committing.
        var consensusBusyMicroseconds: UInt64 = 0
        /// CPU time of the node's process (user and system).
        var cpuSeconds = 0.0
    }

    let network: TestnetCommand.Network
    private let directory: String
    private var processes: [Process] = []

    /// Writes testnet homes under `directory` (node logs at warning level), with `history`
    /// committed into their stores, and starts the nodes; returns once each has its three peers.
    init(directory: String, allocations: [Genesis.Allocation], blockIntervalMs: Int, history: TestnetHistory? = nil) throws {
        self.directory = directory
        let base = try Self.freePortRange(2 * Self.size)
        let now = UInt64(Date().timeIntervalSince1970)
        network = try TestnetCommand.create(
            validators: Self.size, out: directory, chainID: BenchNetworkCommand.chainID, basePort: base, host: "127.0.0.1",
            power: 10_000, allocations: allocations + (history?.allocations ?? []), genesisTime: history?.genesisTime(now: now) ?? now
        ) { config in
            config.block_interval_ms = blockIntervalMs
            config.block_transactions_max = BenchNetworkCommand.blockTransactionsMax
            config.log_level = "warning"
            config.mempool_transactions_max = 100_000
            config.http_body_max_bytes = 4 << 20
        }
        do {
            if let history {
                try history.write(into: network, validatorKeys: network.members.map { try KeyFile.read(from: $0.home.file("validator.key")) })
            }
            for member in network.members { processes.append(try Self.start(home: member.home)) }
            try waitUntil("every node connected to the three others", seconds: 60) {
                try network.members.allSatisfy { (try get($0, "/v1/status")["peers"] as? Int) == Self.size - 1 }
            }
        } catch {
            stop()
            throw error
        }
    }

    /// A full node joining the network (`tributary init --genesis`, every validator its
    /// persistent peer), started; its process is stopped with the others.
    func startFullNode() throws -> (http: String, process: Process) {
        let home = NodeHome((directory as NSString).appendingPathComponent("full"))
        let ports = try Self.freePortRange(2)
        try Subprocess.run(Subprocess.tributary, [
            "init", "--home", home.path, "--genesis", network.members[0].home.genesisPath,
            "--peers", network.members.map(\.peer.description).joined(separator: ","), "--validator-key", home.file("validator.key"),
            "--http-address", "127.0.0.1:\(ports)", "--p2p-address", "127.0.0.1:\(ports + 1)",
        ])
        let process = try Self.start(home: home)
        processes.append(process)
        return ("http://127.0.0.1:\(ports)", process)
    }

    /// Starts `tributary start --home` with its output in `<home>/node.log`.
    private static func start(home: NodeHome) throws -> Process {
        let process = Process()
        process.executableURL = Subprocess.tributary
        process.arguments = ["start", "--home", home.path]
        _ = FileManager.default.createFile(atPath: home.file("node.log"), contents: nil)
        let log = FileHandle(forWritingAtPath: home.file("node.log"))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Stops every node (SIGINT) and waits for it.
    func stop() {
        for process in processes where process.isRunning { process.interrupt() }
        for process in processes { process.waitUntilExit() }
        processes = []
    }

    func metrics() throws -> [Counters] {
        try zip(network.members, processes).map { member, process in
            let response = try HTTPClient.send("GET", member.http + "/metrics")
            var counters = Counters()
            counters.cpuSeconds = Self.cpuSeconds(of: process.processIdentifier)
            for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let value = UInt64(parts[1]) else { continue }
                let sample = String(parts[0])
                if sample == "tributary_transactions_committed_total" { counters.committed = value }
                if sample == "tributary_consensus_busy_microseconds_total" { counters.consensusBusyMicroseconds = value }
                if sample.hasPrefix("tributary_p2p_bytes_total{"), sample.contains("direction=\"received\"") { counters.bytesReceived += value }
                for channel in Channel.allCases {
                    if sample == "tributary_p2p_items_received_total{channel=\"\(channel)\"}" { counters.itemsReceived[channel] = value }
                    if sample == "tributary_p2p_items_accepted_total{channel=\"\(channel)\"}" { counters.itemsAccepted[channel] = value }
                }
            }
            return counters
        }
    }

    /// Sends node i the transfers of every fourth account (so an account's nonces stay in order
    /// on one node), in batches, as fast as the nodes take them; a batch's refusals for a full
    /// mempool are sent again.
    func submitAll(_ transfers: [SignedTransaction]) throws {
        let failure = Mutex<(any Error)?>(nil)
        let group = DispatchGroup()
        for (index, member) in network.members.enumerated() {
            let share = transfers.filter { Int($0.transaction.sender.bytes32.bytes[0]) % Self.size == index }
            DispatchQueue.global().async(group: group) {
                do { try Self.send(share, to: member.http, paced: nil) } catch { failure.withLock { $0 = error } }
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Waits until every node has committed `count` transactions.
    func waitCommitted(_ count: UInt64) throws {
        try waitUntil("\(count) transfers committed on every node", seconds: 600) {
            try metrics().allSatisfy { $0.committed >= count }
        }
    }

    /// Sends `transfers` at `rate` per second and returns each one's submit-to-commit time in
    /// milliseconds, commits read from node0's blocks as they appear.
    func measureLatency(_ transfers: [SignedTransaction], rate: Double) throws -> [Double] {
        let submitted = Mutex<[Digest: UInt64]>([:])
        let committed = Mutex<[Digest: UInt64]>([:])
        let failure = Mutex<(any Error)?>(nil)
        let group = DispatchGroup()
        for (index, member) in network.members.enumerated() {
            let share = transfers.filter { Int($0.transaction.sender.bytes32.bytes[0]) % Self.size == index }
            DispatchQueue.global().async(group: group) {
                do {
                    try Self.send(share, to: member.http, paced: (rate / Double(Self.size), { hashes, at in
                        submitted.withLock { for hash in hashes { $0[hash] = at } }
                    }))
                } catch { failure.withLock { $0 = error } }
            }
        }
        // Reads node0's new blocks every 10 ms and notes when each transfer appeared.
        let node0 = network.members[0].http
        let session = try HTTPClient.Session()
        func latestHeight() throws -> Int {
            try HTTPClient.send("GET", node0 + "/v1/status", session: session).json?["height"] as? Int ?? 0
        }
        var height = try latestHeight()
        let deadline = Date().addingTimeInterval(Double(transfers.count) / rate + 120)
        while committed.withLock({ $0.count }) < transfers.count && Date() < deadline {
            let latest = try latestHeight()
            if latest == height { Thread.sleep(forTimeInterval: 0.01) }
            while height < latest {
                height += 1
                let bytes = try HTTPClient.send("GET", node0 + "/v1/blocks/\(height)", headers: ["Accept: application/octet-stream"],
                                                session: session).body
                let seen = DispatchTime.now().uptimeNanoseconds
                let block = try Block(canonicalBytes: bytes, maxBytes: bytes.count)
                committed.withLock { for transaction in block.transactions { $0[transaction.hash] = seen } }
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        let starts = submitted.withLock { $0 }
        let ends = committed.withLock { $0 }
        guard ends.count >= transfers.count else {
            throw CommandError("only \(ends.count) of \(transfers.count) half-rate transfers committed in time")
        }
        return transfers.compactMap { transfer in
            guard let start = starts[transfer.hash], let end = ends[transfer.hash] else { return nil }
            return Double(end - min(start, end)) / 1e6
        }
    }

    /// POSTs `transfers` to `url` in batches over one kept-alive connection; with `paced`, one
    /// batch per 50 ms at the given rate, reporting each batch's hashes and send time.
    private static func send(_ transfers: [SignedTransaction], to url: String,
                             paced: (rate: Double, sent: ([Digest], UInt64) -> Void)?) throws {
        let session = try HTTPClient.Session()
        var pending = transfers[...]
        let tickSeconds = 0.05
        let began = Date()
        var sentCount = 0
        while !pending.isEmpty {
            var batchSize = BenchNetworkCommand.batchTransactions
            if let paced {
                let due = Int(paced.rate * Date().timeIntervalSince(began)) - sentCount
                if due <= 0 {
                    Thread.sleep(forTimeInterval: tickSeconds)
                    continue
                }
                batchSize = min(due, batchSize)
            }
            let batch = Array(pending.prefix(batchSize))
            let body = try JSONSerialization.data(withJSONObject: ["txs": batch.map { Hex.encode($0.canonicalBytes) }])
            let at = DispatchTime.now().uptimeNanoseconds
            let response = try HTTPClient.send("POST", url + "/v1/txs", body: Array(body), headers: ["Content-Type: application/json"],
                                               session: session)
            guard response.status == 202, let results = response.json?["results"] as? [[String: Any]], results.count == batch.count else {
                throw CommandError("\(url) refused a batch: HTTP \(response.status)")
            }
            var retry: [SignedTransaction] = []
            for (transfer, result) in zip(batch, results) {
                switch result["error"] as? String {
                case nil, "already_known": break
                case "mempool_full": retry.append(transfer)
                case let code?: throw CommandError("\(url) refused a transfer: \(code): \(result["message"] ?? "")")
                }
            }
            paced?.sent(batch.filter { !retry.contains($0) }.map(\.hash), at)
            sentCount += batch.count - retry.count
            pending = retry[...] + pending.dropFirst(batch.count)
            if !retry.isEmpty { Thread.sleep(forTimeInterval: 0.005) }
        }
    }

    private func get(_ member: TestnetCommand.Network.Member, _ path: String) throws -> [String: Any] {
        guard let object = try HTTPClient.send("GET", member.http + path).json else { throw CommandError("\(member.http)\(path) is not JSON") }
        return object
    }

    func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            if processes.contains(where: { !$0.isRunning }) { throw CommandError("a node exited while waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw CommandError("timed out waiting for \(what)")
    }

    /// User and system CPU time of process `pid`, from `/proc/<pid>/stat`.
    private static func cpuSeconds(of pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: afterName)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The first of `count` consecutive free loopback ports.
    static func freePortRange(_ count: Int) throws -> Int {
        for _ in 0..<100 {
            let first = Int.random(in: 10_000...32_000)  // below the ephemeral range, which outgoing connections take from
            if (first..<first + count).allSatisfy(isFree) { return first }
        }
        throw CommandError("found no \(count) consecutive free ports")
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
