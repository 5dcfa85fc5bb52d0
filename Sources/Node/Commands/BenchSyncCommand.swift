import Crypto
import Foundation
import Ledger

/// `tributary bench sync`: how fast a fresh node catches up from four validator processes by
/// block sync, in empty blocks per second and in transfers per second of full blocks, against
/// `bench ledger`'s single-validator pipeline measured in the same run.
enum BenchSyncCommand {
    static let spec = CommandSpec(
        path: ["bench", "sync"],
        summary: "Measure block sync of a fresh node against the single-validator rate.",
        discussion: """
        Twice — once with empty blocks, once with full ones — makes a four-validator testnet in
        a temporary folder whose nodes hold a history committed before they start (tributary
        testnet --history-blocks), starts them, then starts a fresh full node (tributary init
        --genesis, the four validators its peers) and times it from its start until it reports
        the validators' height. Before that, measures bench ledger's single-validator pipeline
        on the same kind of transfers. Goals: ≥ 2,000 empty blocks/s; full blocks ≥ 0.8 × the
        single-validator rate.
        """,
        options: [
            .init(name: "empty-blocks", value: "N", help: "Empty blocks to sync (default 20000)."),
            .init(name: "full-blocks", value: "N", help: "Full blocks to sync (default 50)."),
            .init(name: "transfers-per-block", value: "K", help: "Transfers in each full block (default 2000)."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { try run($0) }

    private static func run(_ arguments: ParsedArguments) throws {
        let emptyBlocks = try arguments.integer("empty-blocks", default: 20_000, in: 1...10_000_000)
        let fullBlocks = try arguments.integer("full-blocks", default: 50, in: 1...100_000)
        let perBlock = try arguments.integer("transfers-per-block", default: 2_000, in: 1...Block.maxTransactions)

        let full = TestnetHistory(blocks: fullBlocks, transfersPerBlock: perBlock)
        let transferCount = fullBlocks * perBlock
        Output.note("single-validator pipeline (bench ledger) on \(transferCount) transfers…")
        let validator = SigningKey()
        let genesis = Genesis(chainID: BenchNetworkCommand.chainID, genesisTime: UInt64(Date().timeIntervalSince1970) - 1,
                              parameters: ChainParameters(minFee: 1_000, minStake: OPEN.atomicUnitsPerOPEN),
                              validators: [.init(address: validator.publicKey, power: 1_000)], allocations: full.allocations, vesting: [])
        let transfers = (0..<transferCount).map { full.transfer($0, chainID: genesis.chainID, fee: genesis.parameters.minFee) }
        let single = try BenchLedgerCommand.measurePipeline(genesis: genesis, validator: validator, transactions: transfers,
                                                            blockSize: perBlock)

        Output.note("syncing \(emptyBlocks) empty blocks…")
        let empty = try measureSync(TestnetHistory(blocks: emptyBlocks, transfersPerBlock: 0))
        Output.note("syncing \(fullBlocks) blocks of \(perBlock) transfers…")
        let fullSync = try measureSync(full)

        let emptyRate = Double(emptyBlocks) / empty
        let fullRate = Double(transferCount) / fullSync
        let ratio = fullRate / single.committedPerSecond
        let r = BenchLedgerCommand.rounded
        let figures: [String: Any] = [
            "empty_blocks": emptyBlocks, "empty_seconds": r(empty, 3), "empty_blocks_per_s": r(emptyRate, 0),
            "full_blocks": fullBlocks, "transfers_per_block": perBlock, "full_seconds": r(fullSync, 3),
            "full_transfers_per_s": r(fullRate, 0), "single_validator_transfers_per_s": r(single.committedPerSecond, 0),
            "full_ratio_to_single": r(ratio, 3),
            "goals_met": ["empty_blocks_per_s": emptyRate >= 2_000, "full_ratio": ratio >= 0.8],
        ]
        if arguments.flag("json") { return try Output.json(figures, pretty: false) }
        print("""
        single validator (bench ledger): \(Int(single.committedPerSecond)) transfers/s
        sync of empty blocks:            \(Int(emptyRate)) blocks/s (\(emptyBlocks) in \(r(empty, 2)) s); goal ≥ 2000: \(emptyRate >= 2_000 ? "met" : "NOT met")
        sync of full blocks:             \(Int(fullRate)) transfers/s (\(fullBlocks) blocks of \(perBlock) in \(r(fullSync, 2)) s), \(r(ratio, 3)) × single; goal ≥ 0.8: \(ratio >= 0.8 ? "met" : "NOT met")
        """)
    }

    /// Seconds a fresh node takes, from its start, to reach the height of validators that hold `history`.
    private static func measureSync(_ history: TestnetHistory) throws -> Double {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-sync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try LocalCluster(directory: directory, allocations: [], blockIntervalMs: 1_000, history: history)
        defer { cluster.stop() }
        let session = try HTTPClient.Session()
        let started = DispatchTime.now()
        let node = try cluster.startFullNode()
        try cluster.waitUntil("the new node at height \(history.blocks)", seconds: 3_600) {
            try HTTPClient.send("GET", node.http + "/v1/status", session: session).json?["height"] as? Int ?? 0 >= history.blocks
        }
        return BenchLedgerCommand.seconds(since: started)
    }
}
