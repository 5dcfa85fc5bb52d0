import Consensus
import Crypto
import Foundation
import Ledger

/// `tributary bench ledger`: signed transfers admitted, executed and committed per second with
/// RocksDB sync on, against Ed25519 verifications per second measured in the same run.
enum BenchLedgerCommand {
    static let spec = CommandSpec(
        path: ["bench", "ledger"],
        summary: "Measure committed transfers/s (RocksDB sync on) against the Ed25519 verification ceiling.",
        discussion: """
        Pre-signs transfers between funded accounts, measures single-threaded Ed25519 verification
        (the ceiling: every transaction's signature is checked once), then pushes the same transfers
        through the node pipeline — submission (signature check, nonce and balance check, mempool),
        block building, execution, state tree update and a synced RocksDB commit per block — in a
        temporary store. Reports both rates and their ratio.
        """,
        options: [
            .init(name: "accounts", value: "N", help: "Funded accounts (default 10000)."),
            .init(name: "transactions", value: "N", help: "Transfers to commit (default 50000)."),
            .init(name: "block-size", value: "N", help: "Transactions per block (default 2000)."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { try run($0) }

    private static func run(_ arguments: ParsedArguments) throws {
        let accountCount = try arguments.integer("accounts", default: 10_000, in: 2...100_000)
        let transactionCount = try arguments.integer("transactions", default: 50_000, in: 1...10_000_000)
        let blockSize = try arguments.integer("block-size", default: 2_000, in: 1...Block.maxTransactions)

        let validator = SigningKey()
        let accounts = (0..<accountCount).map { SigningKey(seed: Digest.blake2b(Array("bench account \($0)".utf8)).bytes)! }
        let genesis = Genesis(
            chainID: "bench", genesisTime: UInt64(Date().timeIntervalSince1970) - 1,
            parameters: ChainParameters(minFee: 1_000, minStake: OPEN.atomicUnitsPerOPEN),
            validators: [.init(address: validator.publicKey, power: 1_000)],
            allocations: accounts.map { .init(address: $0.publicKey, amount: 1_000_000 * OPEN.atomicUnitsPerOPEN) },
            vesting: [])

        Output.note("signing \(transactionCount) transfers from \(accountCount) accounts…")
        var random = SeededGenerator(seed: 42)
        let transactions = (0..<transactionCount).map { index in
            let sender = accounts[index % accountCount]
            let recipient = accounts[Int(random.next() % UInt64(accountCount))].publicKey
            return Transaction(
                sender: sender.publicKey, nonce: UInt64(index / accountCount), fee: 1_000,
                body: .transfer(to: recipient, amount: 1 + random.next() % 1_000_000)
            ).signed(by: sender, chainID: genesis.chainID)
        }

        Output.note("measuring Ed25519 verification…")
        let verifyStart = DispatchTime.now()
        var valid = 0
        for transaction in transactions where transaction.hasValidSignature(chainID: genesis.chainID) { valid += 1 }
        let verifySeconds = seconds(since: verifyStart)
        guard valid == transactionCount else { throw CommandError("\(transactionCount - valid) signatures failed to verify") }

        Output.note("committing through the node pipeline (RocksDB sync on)…")
        let pipeline = try measurePipeline(genesis: genesis, validator: validator, transactions: transactions, blockSize: blockSize)
        let (submitSeconds, blocks, commitSeconds) = (pipeline.submitSeconds, pipeline.blocks, pipeline.commitSeconds)

        let verificationsPerSecond = Double(transactionCount) / verifySeconds
        let committedPerSecond = pipeline.committedPerSecond
        let figures: [String: Any] = [
            "accounts": accountCount, "transactions": transactionCount, "block_size": blockSize, "blocks": blocks,
            "ed25519_verifications_per_s": rounded(verificationsPerSecond),
            "committed_transfers_per_s": rounded(committedPerSecond),
            "ratio": rounded(committedPerSecond / verificationsPerSecond, places: 3),
            "submit_s": rounded(submitSeconds, places: 3), "build_and_commit_s": rounded(commitSeconds, places: 3),
            "mean_block_commit_ms": rounded(commitSeconds / Double(blocks) * 1000, places: 2),
        ]
        if arguments.flag("json") {
            try Output.json(figures, pretty: false)
        } else {
            print("""
            Ed25519 verifications:   \(Int(verificationsPerSecond)) /s (single thread, the ceiling)
            committed transfers:     \(Int(committedPerSecond)) /s (\(transactionCount) transfers in \(blocks) blocks of at most \(blockSize), sync on)
            ratio:                   \(figures["ratio"]!)
            time in submission:      \(figures["submit_s"]!) s on the submitting thread (signature, nonce/balance checks, mempool)
            time in block commit:    \(figures["build_and_commit_s"]!) s on the consensus thread (mean \(figures["mean_block_commit_ms"]!) ms per block)
            """)
        }
    }

    /// What one validator's pipeline took for a run of transfers.
    struct PipelineFigures {
        let transactionCount: Int
        let seconds: Double
        let submitSeconds: Double
        let blocks: Int
        let commitSeconds: Double
        var committedPerSecond: Double { Double(transactionCount) / seconds }
    }

    /// Pushes `transactions` through a single validator's node — submission, block building,
    /// execution, synced commits — in a temporary directory. The node is stopped and its
    /// consensus thread joined and released before the directory is removed (removing it under
    /// a running node aborted the process).
    static func measurePipeline(genesis: Genesis, validator: SigningKey, transactions: [SignedTransaction],
                                blockSize: Int) throws -> PipelineFigures {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try ChainStore(path: directory + "/data")
        try store.initialize(genesis: genesis)
        var consensus = ConsensusConfig()
        consensus.commitDelayMs = 0
        let node = try ChainNode(
            store: store, validatorKey: validator,
            mempoolLimits: Mempool.Limits(transactionsMax: blockSize * 2, perAccountMax: transactions.count),
            blockTransactionsMax: blockSize, consensus: consensus, walPath: directory + "/consensus.wal",
            network: nil, log: Logger(format: .human, level: .warning))
        let stopped = DispatchSemaphore(value: 0)
        // Weak: the thread must not hold the node past `stopped` — its last reference would go
        // when the thread's storage is torn down, closing RocksDB on that thread while this one
        // removes the store's folder (a crash about one run in forty).
        let consensusThread = Thread { [weak node] in
            try? node?.run()
            stopped.signal()
        }
        consensusThread.start()
        defer {
            node.shutdown()
            stopped.wait()
        }

        var submitSeconds = 0.0
        let pipelineStart = DispatchTime.now()
        for transaction in transactions {
            while true {
                let submitStart = DispatchTime.now()
                do {
                    try node.submit(transaction)
                    submitSeconds += seconds(since: submitStart)
                    break
                } catch .mempool(.full) {
                    Thread.sleep(forTimeInterval: 0.000_2)  // the consensus thread is committing a block
                } catch {
                    throw CommandError("transfer refused: \(error)")
                }
            }
        }
        while node.metrics.transactionsCommitted.load(ordering: .relaxed) < UInt64(transactions.count) {
            Thread.sleep(forTimeInterval: 0.000_2)
        }
        return PipelineFigures(
            transactionCount: transactions.count, seconds: seconds(since: pipelineStart), submitSeconds: submitSeconds,
            blocks: Int(node.metrics.blocksCommitted.load(ordering: .relaxed)),
            commitSeconds: Double(node.metrics.consensusBusyMicroseconds.load(ordering: .relaxed)) / 1e6)
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    static func rounded(_ value: Double, places: Int = 0) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }
}
