import Foundation

/// `tributary query account|block|tx|datanet|adapter|status|validators|peers`: read from a node's HTTP API.
enum QueryCommands {
    static let all: [CommandSpec] = [
        query("account", "An account's balance, locked and spendable amounts, stake and nonce.",
              positional: .init(name: "address", help: "64-hex address.")) { "/v1/accounts/\($0!)" },
        query("block", "A block with its transactions and commit certificate.",
              positional: .init(name: "height", help: "Height or 'latest'.")) { "/v1/blocks/\($0!)" },
        query("tx", "A transaction and whether it is committed, pending or dropped.",
              positional: .init(name: "hash", help: "Transaction hash.")) { "/v1/txs/\($0!)" },
        query("datanet", "A registered datanet.", positional: .init(name: "id", help: "Datanet id.")) { "/v1/datanets/\($0!)" },
        query("adapter", "A registered adapter.", positional: .init(name: "hash", help: "Adapter hash.")) { "/v1/adapters/\($0!)" },
        query("status", "The node's chain id, height, hashes, mempool size and peer count.", positional: nil) { _ in "/v1/status" },
        query("validators", "The validators that certify the next block: address, voting power, stake.", positional: nil) { _ in "/v1/validators" },
        query("peers", "The node's connected peers: id, address, direction, time connected, bytes, score.", positional: nil) { _ in "/v1/net/peers" },
    ]

    private static func query(
        _ name: String, _ summary: String, positional: CommandSpec.Positional?,
        path: @escaping @Sendable (String?) -> String
    ) -> CommandSpec {
        CommandSpec(
            path: ["query", name], summary: summary, positionals: positional.map { [$0] } ?? [],
            options: [NodeClient.nodeOption, .flag("json", "Print the node's JSON answer.")]
        ) { arguments in
            let answer = try NodeClient(arguments: arguments).get(path(positional.flatMap { arguments.positional($0.name) }))
            if arguments.flag("json") {
                try Output.json(answer)
            } else {
                printFields(answer, indent: "")
            }
        }
    }

    /// `key: value` lines, nested objects indented, in key order.
    private static func printFields(_ object: [String: Any], indent: String) {
        for key in object.keys.sorted() {
            switch object[key] {
            case let nested as [String: Any]:
                print("\(indent)\(key):")
                printFields(nested, indent: indent + "  ")
            case let list as [Any]:
                print("\(indent)\(key): \(list.count == 0 ? "[]" : "")")
                for item in list {
                    if let nested = item as? [String: Any] {
                        print("\(indent)  -")
                        printFields(nested, indent: indent + "    ")
                    } else {
                        print("\(indent)  - \(item)")
                    }
                }
            case let value?:
                print("\(indent)\(key): \(value)")
            case nil:
                break
            }
        }
    }
}
