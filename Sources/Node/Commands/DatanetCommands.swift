import Crypto
import Foundation
import Ledger

/// `tributary datanet create|add|export`: datanets of documents, whose hashes are contributed
/// on chain and whose text nodes store off chain (docs/datanets.md).
enum DatanetCommands {
    static let all: [CommandSpec] = [create, DatanetAddCommand.spec, DatanetExportCommand.spec]

    static let datanetOption = CommandSpec.Option(name: "datanet", value: "ID", help: "Datanet id (required).")

    static let create = CommandSpec(
        path: ["datanet", "create"],
        summary: "Create a datanet (a register_datanet transaction) and print its id.",
        options: [
            TxCommands.keyOption,
            .init(name: "name", value: "TEXT", help: "Datanet name, 1 to 64 bytes (required)."),
            .init(name: "description", value: "TEXT", help: "Up to 512 bytes."),
        ] + TransactionSender.options + [.flag("json", "Print the committed transaction as JSON instead of the id.")]
    ) { arguments in
        let body = TransactionBody.registerDatanet(name: try arguments.required("name"), description: arguments.value("description") ?? "")
        var sender = try TransactionSender(arguments: arguments)
        let signed = sender.sign(body)
        try sender.submit(signed)
        let answer = try sender.waitForCommit(signed.hash, timeoutSeconds: try TransactionSender.timeoutSeconds(arguments))
        if arguments.flag("json") {
            try Output.json(answer, pretty: false)
        } else {
            print(DatanetID.derive(creator: signed.transaction.sender, nonce: signed.transaction.nonce).hex)
        }
    }

    /// `--datanet`, checked.
    static func datanet(_ arguments: ParsedArguments) throws(UsageError) -> Digest {
        let text = try arguments.required("datanet")
        guard let id = Digest(hex: text) else { throw UsageError("--datanet '\(text)' is not 64 hex characters") }
        return id
    }

    /// The datanet's record from the node; a clear error when the chain has no such datanet.
    static func requireRegistered(_ datanet: Digest, node: NodeClient) throws {
        guard try node.lookup("/v1/datanets/\(datanet.hex)") != nil else {
            throw CommandError("unknown datanet \(datanet.hex): the node's chain has no such datanet (create one with 'tributary datanet create')")
        }
    }
}
