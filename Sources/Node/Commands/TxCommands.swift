import Crypto
import Foundation
import Ledger

/// `tributary tx …`: build a transaction, sign it with a key file, submit it to a node and
/// (unless `--no-wait`) wait until it is committed.
enum TxCommands {
    static let all: [CommandSpec] = [transfer, registerDatanet, contribute, registerAdapter, stake, unstake]

    static let transfer = command(
        "transfer", "Send OPEN to an address.",
        options: [
            .init(name: "to", value: "ADDR", help: "Recipient address (required)."),
            .init(name: "amount", value: "OPEN", help: "Amount in OPEN, e.g. 1.5 (required)."),
        ]
    ) { arguments in
        let text = try arguments.required("to")
        guard let to = Address(hex: text) else { throw UsageError("--to '\(text)' is not a 64-hex address") }
        return .transfer(to: to, amount: try InitCommand.openAmount(try arguments.required("amount"), option: "amount"))
    }

    static let registerDatanet = command(
        "register-datanet", "Create a datanet; its id is printed with the transaction.",
        options: [
            .init(name: "name", value: "TEXT", help: "Datanet name, 1 to 64 bytes (required)."),
            .init(name: "description", value: "TEXT", help: "Up to 512 bytes."),
        ]
    ) { arguments in
        .registerDatanet(name: try arguments.required("name"), description: arguments.value("description") ?? "")
    }

    static let contribute = command(
        "contribute", "Record a data contribution to a datanet (its BLAKE2b hash and size).",
        options: [
            .init(name: "datanet", value: "ID", help: "Datanet id (required)."),
            .init(name: "file", value: "PATH", help: "The content; hash and size are computed from it."),
            .init(name: "content-hash", value: "HEX", help: "BLAKE2b-256 of the content, instead of --file."),
            .init(name: "size", value: "BYTES", help: "Content size, with --content-hash."),
        ]
    ) { arguments in
        let datanet = try digest(arguments, "datanet")
        if let path = arguments.value("file") {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
                throw CommandError("cannot read \(path)")
            }
            return .contribute(datanet: datanet, contentHash: Digest.blake2b(data), sizeBytes: UInt64(data.count))
        }
        return .contribute(
            datanet: datanet, contentHash: try digest(arguments, "content-hash"),
            sizeBytes: try arguments.integer("size", default: 0, in: 1...UInt64.max))
    }

    static let registerAdapter = command(
        "register-adapter", "Register a LoRA adapter with its lineage and price.",
        options: [
            .init(name: "adapter-hash", value: "HEX", help: "BLAKE2b-256 of the adapter's canonical content (required)."),
            .init(name: "base-model-hash", value: "HEX", help: "Hash of the base model (required)."),
            .init(name: "datanet", value: "ID", help: "A datanet the adapter was trained on.", isRepeatable: true),
            .init(name: "name", value: "TEXT", help: "Adapter name, 1 to 64 bytes (required)."),
            .init(name: "price-per-token", value: "OPEN", help: "Price per generated token in OPEN (default 0)."),
        ]
    ) { arguments in
        var datanets: [Digest] = []
        for text in arguments.allValues("datanet") {
            guard let id = Digest(hex: text) else { throw UsageError("--datanet '\(text)' is not 64 hex characters") }
            datanets.append(id)
        }
        return .registerAdapter(
            adapterHash: try digest(arguments, "adapter-hash"), baseModelHash: try digest(arguments, "base-model-hash"),
            datanets: Array(Set(datanets)).sorted(), name: try arguments.required("name"),
            pricePerToken: try InitCommand.openAmount(arguments.value("price-per-token") ?? "0", option: "price-per-token"))
    }

    static let stake = command(
        "stake", "Bond OPEN as validator stake.",
        options: [.init(name: "amount", value: "OPEN", help: "Amount to bond (required).")]
    ) { arguments in
        .stake(amount: try InitCommand.openAmount(try arguments.required("amount"), option: "amount"))
    }

    static let unstake = command(
        "unstake", "Return bonded stake to the balance.",
        options: [.init(name: "amount", value: "OPEN", help: "Amount to unbond (required).")]
    ) { arguments in
        .unstake(amount: try InitCommand.openAmount(try arguments.required("amount"), option: "amount"))
    }

    // MARK: Shared

    private static let commonOptions: [CommandSpec.Option] = [keyOption] + TransactionSender.options + [
        .flag("no-wait", "Return once the node accepted the transaction."),
        .flag("json", "Print the transaction status as JSON."),
    ]

    static let keyOption = CommandSpec.Option(name: "key", value: "FILE", help: "Key file of the sender (required).")

    private static func command(
        _ name: String, _ summary: String, options: [CommandSpec.Option],
        body: @escaping @Sendable (ParsedArguments) throws -> TransactionBody
    ) -> CommandSpec {
        CommandSpec(path: ["tx", name], summary: summary, options: options + commonOptions) { arguments in
            try submit(arguments, body: try body(arguments))
        }
    }

    private static func digest(_ arguments: ParsedArguments, _ option: String) throws(UsageError) -> Digest {
        let text = try arguments.required(option)
        guard let value = Digest(hex: text) else { throw UsageError("--\(option) '\(text)' is not 64 hex characters") }
        return value
    }

    private static func submit(_ arguments: ParsedArguments, body: TransactionBody) throws {
        var sender = try TransactionSender(arguments: arguments)
        let signed = sender.sign(body)
        try sender.submit(signed)
        let hash = signed.hash.hex
        if arguments.flag("no-wait") {
            if arguments.flag("json") { try Output.json(["hash": hash, "status": "pending"], pretty: false) } else { print("pending \(hash)") }
            return
        }
        let answer = try sender.waitForCommit(signed.hash, timeoutSeconds: try TransactionSender.timeoutSeconds(arguments))
        if arguments.flag("json") { try Output.json(answer, pretty: false) } else {
            print("committed \(hash) at height \(answer["height"] ?? "?")")
            if case .registerDatanet = body, let id = answer["datanet"] { print("datanet \(id)") }
        }
    }
}
