import Foundation

/// Maps a command line to a `CommandSpec` and runs it.
struct CommandDispatcher {
    let commands: [CommandSpec]

    /// Runs the command named by `arguments` and returns the process exit status.
    func run(_ arguments: [String]) -> Int32 {
        let wantsHelp = arguments.contains("--help") || arguments.contains("-h")
        guard let command = longestMatch(arguments) else {
            let path = Array(arguments.prefix { !$0.hasPrefix("-") })
            guard commands.contains(where: { $0.path.starts(with: path) }) else {
                Output.error("unknown command 'tributary \(path.joined(separator: " "))'; try 'tributary --help'")
                return 2
            }
            print(listing(under: path))
            if wantsHelp { return 0 }
            // A usage error: one line on standard error, as every other.
            Output.error(path.isEmpty ? "missing command; try 'tributary --help'" : "missing subcommand of 'tributary \(path.joined(separator: " "))'")
            return 2
        }
        if wantsHelp {
            print(command.help)
            return 0
        }
        do {
            let parsed = try ParsedArguments(Array(arguments.dropFirst(command.path.count)), spec: command)
            try command.run(parsed)
            return 0
        } catch let error as UsageError {
            Output.error(error.description)
            return 2
        } catch {
            Output.error(String(describing: error))
            return 1
        }
    }

    private func longestMatch(_ arguments: [String]) -> CommandSpec? {
        commands
            .filter { arguments.starts(with: $0.path) }
            .max { $0.path.count < $1.path.count }
    }

    private func listing(under path: [String]) -> String {
        let matching = commands.filter { $0.path.starts(with: path) }
        var lines = [
            path.isEmpty
                ? "tributary — a peer-to-peer network where AI work is paid for and its data is credited."
                : "tributary \(path.joined(separator: " ")) — subcommands:",
            "",
            "Commands:",
        ]
        for command in matching {
            lines.append(CommandSpec.row(command.path.joined(separator: " "), command.summary))
        }
        lines += ["", "Run 'tributary <command> --help' for a command's options."]
        return lines.joined(separator: "\n")
    }
}
