import Consensus
import Crypto
import Foundation
import Gossip
import Ledger
import Synchronization

/// `tributary bench network`: four validator processes on this machine — each with its own
/// RocksDB store and consensus WAL, fsync on — fed pre-signed transfers over their HTTP APIs,
/// against `bench ledger`'s single-validator pipeline measured in the same run.
enum BenchNetworkCommand {
    static let spec = CommandSpec(
        path: ["bench", "network"],
        summary: "Measure a 4-validator network of processes against the single-validator rate.",
        discussion: """
        Signs transfers between funded accounts, measures the single-validator node pipeline on
        them (as bench ledger does), then starts four validator processes from testnet homes in a
        temporary folder and sends every node a quarter of the transfers in batches
        (POST /v1/txs {"txs": [...]}) as fast as they take them. Reports the saturated rate (all
        transfers committed on all four nodes), then submit-to-commit latency p50/p99 with the
        rest of the transfers sent at half that rate, bytes received per committed transfer per
        node, and copies received per gossiped message per node, with the goals: rate ≥ 0.8 ×
        single-validator rate ÷ 4, p50 ≤ 250 ms, p99 ≤ 1 s, ≤ 1.5 copies.
        """,
        options: [
            .init(name: "accounts", value: "N", help: "Funded accounts (default 4000)."),
            .init(name: "transactions", value: "N", help: "Transfers for the saturated phase (default 40000)."),
            .init(name: "latency-seconds", value: "S", help: "Length of the half-rate phase (default 15)."),
            .init(name: "block-interval-ms", value: "MS", help: "The validators' pause after each commit (default 1: blocks follow each other)."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { try run($0) }

    static let chainID = "benchnet"
    static let blockTransactionsMax = 2_000
    static let batchTransactions = 250

    private static func run(_ arguments: ParsedArguments) throws {
        let accountCount = try arguments.integer("accounts", default: 4_000, in: 4...100_000)
        let saturatedCount = try arguments.integer("transactions", default: 40_000, in: 100...1_000_000)
        let latencySeconds = try arguments.integer("latency-seconds", default: 15, in: 1...600)
        let blockIntervalMs = try arguments.integer("block-interval-ms", default: 1, in: 1...10_000)

        Output.note("signing transfers from \(accountCount) accounts…")
        let accounts = (0..<accountCount).map { SigningKey(seed: Digest.blake2b(Array("bench network account \($0)".utf8)).bytes)! }
        // Phase one's transfers, then enough for phase two at up to 20,000 transfers/s.
        let latencyBudget = min(latencySeconds * 10_000, 1_000_000)
        let transfers = signTransfers(from: accounts, count: saturatedCount + latencyBudget)
        let saturated = Array(transfers.prefix(saturatedCount))
        let allocations = accounts.map { Genesis.Allocation(address: $0.publicKey, amount: 1_000_000 * OPEN.atomicUnitsPerOPEN) }

        Output.note("single-validator pipeline (bench ledger) on the first \(saturatedCount) transfers…")
        let validator = SigningKey()
        let single = try BenchLedgerCommand.measurePipeline(
            genesis: Genesis(chainID: chainID, genesisTime: UInt64(Date().timeIntervalSince1970) - 1,
                             parameters: ChainParameters(minFee: 1_000, minStake: OPEN.atomicUnitsPerOPEN),
                             validators: [.init(address: validator.publicKey, power: 1_000)], allocations: allocations, vesting: []),
            validator: validator, transactions: saturated, blockSize: blockTransactionsMax)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-network-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try LocalCluster(directory: directory, allocations: allocations, blockIntervalMs: blockIntervalMs)
        defer { cluster.stop() }
        Output.note("four validators up (\(directory)); saturating with \(saturatedCount) transfers…")

        let before = try cluster.metrics()
        let started = DispatchTime.now()
        try cluster.submitAll(saturated)
        try cluster.waitCommitted(UInt64(saturatedCount))
        let saturatedSeconds = BenchLedgerCommand.seconds(since: started)
        let after = try cluster.metrics()
        let rate = Double(saturatedCount) / saturatedSeconds

        let halfRate = rate / 2
        let latencyCount = min(Int(halfRate * Double(latencySeconds)), latencyBudget)
        Output.note("half rate: \(Int(halfRate)) transfers/s for \(latencySeconds) s…")
        let latencyStarted = DispatchTime.now()
        let latencies = try cluster.measureLatency(Array(transfers[saturatedCount..<saturatedCount + latencyCount]), rate: halfRate)
        let latencySecondsMeasured = BenchLedgerCommand.seconds(since: latencyStarted)
        let afterLatency = try cluster.metrics()
        // Where the time went: the node processes' CPU (in cores) and each consensus thread's busy share.
        func load(_ from: [LocalCluster.Counters], _ to: [LocalCluster.Counters], seconds: Double) -> (cores: Double, busy: [Double]) {
            (zip(from, to).reduce(0) { $0 + $1.1.cpuSeconds - $1.0.cpuSeconds } / seconds,
             zip(from, to).map { Double($1.consensusBusyMicroseconds - $0.consensusBusyMicroseconds) / 1e6 / seconds })
        }
        let saturatedLoad = load(before, after, seconds: saturatedSeconds)
        let halfLoad = load(after, afterLatency, seconds: latencySecondsMeasured)

        let bytesPerTransfer = zip(before, after).map { Double($1.bytesReceived - $0.bytesReceived) / Double(saturatedCount) }
        func copies(_ channel: Channel) -> [Double] {
            zip(before, after).map { pair in
                let received = pair.1.itemsReceived[channel]! - pair.0.itemsReceived[channel]!
                let accepted = pair.1.itemsAccepted[channel]! - pair.0.itemsAccepted[channel]!
                return accepted == 0 ? 0 : Double(received) / Double(accepted)
            }
        }
        let transactionCopies = copies(.transactions)
        let consensusCopies = copies(.consensus)
        let goalRate = 0.8 * single.committedPerSecond / 4
        let p50 = percentile(latencies, 0.50)
        let p99 = percentile(latencies, 0.99)
        let maxCopies = (transactionCopies + consensusCopies).max() ?? 0
        let r = BenchLedgerCommand.rounded
        let figures: [String: Any] = [
            "accounts": accountCount, "transactions": saturatedCount, "block_interval_ms": blockIntervalMs,
            "single_validator_transfers_per_s": r(single.committedPerSecond, 0),
            "network_transfers_per_s": r(rate, 0), "goal_transfers_per_s": r(goalRate, 0),
            "ratio_to_single_over_4": r(rate / (single.committedPerSecond / 4), 3),
            "half_rate_transfers": latencies.count, "latency_p50_ms": r(p50, 1), "latency_p99_ms": r(p99, 1),
            "bytes_received_per_transfer_per_node": bytesPerTransfer.map { r($0, 0) },
            "copies_per_transaction_per_node": transactionCopies.map { r($0, 3) },
            "copies_per_consensus_message_per_node": consensusCopies.map { r($0, 3) },
            "node_cpu_cores_saturated": r(saturatedLoad.cores, 2), "node_cpu_cores_half_rate": r(halfLoad.cores, 2),
            "consensus_busy_share_saturated": saturatedLoad.busy.map { r($0, 2) },
            "consensus_busy_share_half_rate": halfLoad.busy.map { r($0, 2) },
            "goals_met": [
                "throughput": rate >= goalRate, "latency_p50": p50 <= 250, "latency_p99": p99 <= 1_000, "copies": maxCopies <= 1.5,
            ],
        ]
        if arguments.flag("json") { return try Output.json(figures, pretty: false) }
        print("""
        single validator (bench ledger): \(Int(single.committedPerSecond)) transfers/s
        4 validators, saturated:         \(Int(rate)) transfers/s (\(saturatedCount) in \(r(saturatedSeconds, 2)) s); goal ≥ \(Int(goalRate)) (0.8 × single ÷ 4): \(rate >= goalRate ? "met" : "NOT met"), ratio \(figures["ratio_to_single_over_4"]!)
        submit-to-commit at half rate:   p50 \(r(p50, 1)) ms, p99 \(r(p99, 1)) ms over \(latencies.count) transfers; goals 250 / 1000 ms: \(p50 <= 250 && p99 <= 1_000 ? "met" : "NOT met")
        bytes received per transfer:     \(bytesPerTransfer.map { String(Int($0)) }.joined(separator: " / ")) per node
        copies per gossiped message:     transactions \(transactionCopies.map { String(r($0, 3)) }.joined(separator: " / ")), consensus \(consensusCopies.map { String(r($0, 3)) }.joined(separator: " / ")) per node; goal ≤ 1.5: \(maxCopies <= 1.5 ? "met" : "NOT met")
        node processes' CPU:             \(r(saturatedLoad.cores, 2)) cores saturated, \(r(halfLoad.cores, 2)) at half rate (of \(ProcessInfo.processInfo.activeProcessorCount))
        consensus threads busy:          \(saturatedLoad.busy.map { String(r($0, 2)) }.joined(separator: " / ")) saturated, \(halfLoad.busy.map { String(r($0, 2)) }.joined(separator: " / ")) at half rate
        """)
    }

    /// `count` transfers, accounts taking turns (so each account's nonces rise in order).
    private static func signTransfers(from accounts: [SigningKey], count: Int) -> [SignedTransaction] {
        var random = SeededGenerator(seed: 7)
        return (0..<count).map { index in
            let sender = accounts[index % accounts.count]
            return Transaction(sender: sender.publicKey, nonce: UInt64(index / accounts.count), fee: 1_000,
                               body: .transfer(to: accounts[Int(random.next() % UInt64(accounts.count))].publicKey,
                                               amount: 1 + random.next() % 1_000_000))
                .signed(by: sender, chainID: chainID)
        }
    }

    private static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}
