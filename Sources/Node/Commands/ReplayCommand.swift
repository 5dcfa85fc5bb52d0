import Foundation
import Ledger

/// `tributary replay`: re-execute a stopped node's chain from genesis and compare.
enum ReplayCommand {
    static let spec = CommandSpec(
        path: ["replay"],
        summary: "Re-execute a node's chain from genesis and check it matches the stored state.",
        discussion: "The node must be stopped (its store is locked while it runs). The replay runs in a temporary store.",
        options: [
            .init(name: "home", value: "DIR", help: "Node home (default $TRIBUTARY_HOME or ~/.tributary)."),
            .flag("json", "Print {\"height\", \"app_hash\", \"ok\"}."),
        ]
    ) { arguments in
        let home = NodeHome(arguments: arguments)
        let source = try ChainStore(path: home.dataPath, create: false)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-replay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let height = try ChainReplay.replay(source, into: try ChainStore(path: scratch))
        let appHash = source.status!.appHash.hex
        if arguments.flag("json") {
            try Output.json(["height": height, "app_hash": appHash, "ok": true], pretty: false)
        } else {
            print("replayed \(height) blocks from genesis: app hash \(appHash) and every record match the store")
        }
    }
}
