import Crypto

/// `tributary keys new|show`: Ed25519 key files.
enum KeysCommands {
    static let new = CommandSpec(
        path: ["keys", "new"],
        summary: "Create a new Ed25519 key file (mode 0600) and print its address.",
        options: [
            .init(name: "out", value: "FILE", help: "Where to write the key (required; never overwritten)."),
            .flag("json", "Print {\"address\": …, \"file\": …} instead of the bare address."),
        ]
    ) { arguments in
        let path = try arguments.required("out")
        let key = SigningKey()
        try KeyFile.write(key, to: path)
        if arguments.flag("json") {
            try Output.json(["address": key.publicKey.hex, "file": path], pretty: false)
        } else {
            print(key.publicKey.hex)
        }
    }

    static let show = CommandSpec(
        path: ["keys", "show"],
        summary: "Print the address of a key file.",
        positionals: [.init(name: "file", help: "The key file.")]
    ) { arguments in
        let key = try KeyFile.read(from: try arguments.requiredPositional("file"))
        print(key.publicKey.hex)
    }
}
