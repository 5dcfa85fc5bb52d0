/// Every `tributary` subcommand. Each command lives in its own file under `Commands/` and
/// exposes a `static let spec`; add new ones here.
enum CommandTable {
    static let all: [CommandSpec] = [
        KeysCommands.new,
        KeysCommands.show,
    ]
}
