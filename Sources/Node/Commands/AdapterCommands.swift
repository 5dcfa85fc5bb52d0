import Foundation

/// `tributary adapter add|list|remove`: manage the LoRA adapters a serving node hosts, over
/// its HTTP API (`POST /v1/adapters`, `GET /v1/adapters`, `DELETE /v1/adapters/{id}`).
enum AdapterCommands {
    static let all: [CommandSpec] = [add, list, remove]

    static let add = CommandSpec(
        path: ["adapter", "add"],
        summary: "Host an adapter: a PEFT directory or GGUF LoRA file on the node's machine.",
        discussion: "Prints the adapter's id (the BLAKE2b hash that register_adapter puts on chain) and name.",
        positionals: [.init(name: "path", help: "Adapter directory (adapter_config.json + adapter_model.safetensors) or .gguf file.")],
        options: [
            .init(name: "name", value: "NAME", help: "Name clients may use as `model` (default: the last path component)."),
            NodeClient.nodeOption, .flag("json", "Print the node's JSON answer."),
        ]
    ) { arguments in
        let given = try arguments.requiredPositional("path")
        // The node reads the path itself, so send it absolute.
        let path = URL(fileURLWithPath: (given as NSString).expandingTildeInPath).standardizedFileURL.path
        var body: [String: Any] = ["path": path]
        if let name = arguments.value("name") { body["name"] = name }
        let answer = try NodeClient(arguments: arguments).post("/v1/adapters", json: body)
        if arguments.flag("json") { return try Output.json(answer) }
        print("\(answer["id"] as? String ?? "?")  \(answer["name"] as? String ?? "?")")
    }

    static let list = CommandSpec(
        path: ["adapter", "list"],
        summary: "The adapters a node hosts: id, name, ranks, bytes, and whether each is in memory.",
        options: [NodeClient.nodeOption, .flag("json", "Print the node's JSON answer.")]
    ) { arguments in
        let answer = try NodeClient(arguments: arguments).get("/v1/adapters")
        if arguments.flag("json") { return try Output.json(answer) }
        let adapters = answer["adapters"] as? [[String: Any]] ?? []
        for adapter in adapters {
            let ranks = (adapter["ranks"] as? [Int] ?? []).map(String.init).joined(separator: ",")
            let resident = adapter["resident"] as? Bool == true ? "resident" : "on disk"
            print("\(adapter["id"] as? String ?? "?")  \(adapter["name"] as? String ?? "?")  rank \(ranks)  \(adapter["bytes"] as? Int ?? 0) bytes  \(resident)")
        }
        print("\(adapters.count) adapter(s); \(answer["resident_bytes"] as? Int ?? 0) of \(answer["budget_bytes"] as? Int ?? 0) budget bytes resident")
    }

    static let remove = CommandSpec(
        path: ["adapter", "remove"],
        summary: "Stop hosting an adapter (requests already running finish with it).",
        positionals: [.init(name: "id", help: "The adapter's id or name.")],
        options: [NodeClient.nodeOption]
    ) { arguments in
        let client = NodeClient(arguments: arguments)
        let given = try arguments.requiredPositional("id")
        let adapters = try client.get("/v1/adapters")["adapters"] as? [[String: Any]] ?? []
        let id = adapters.first { $0["name"] as? String == given }?["id"] as? String ?? given
        _ = try client.delete("/v1/adapters/\(id)")
        print("removed \(id)")
    }
}
