/// One `tributary` subcommand: where it sits in the command tree, what it accepts, what it does.
///
/// Every subcommand is one `CommandSpec` value listed in `CommandTable.all`; the dispatcher in
/// `main.swift` picks the longest matching `path`, parses the rest of the command line against
/// `options` and `positionals`, and answers `--help` from the same data.
struct CommandSpec: Sendable {
    /// Words after `tributary`, e.g. `["tx", "transfer"]`.
    let path: [String]
    /// One line shown in listings.
    let summary: String
    /// Longer help shown by `--help`, after the usage line. Optional.
    var discussion: String = ""
    var positionals: [Positional] = []
    var options: [Option] = []
    let run: @Sendable (ParsedArguments) throws -> Void

    struct Positional: Sendable {
        let name: String
        let help: String
        var isRequired: Bool = true
    }

    struct Option: Sendable {
        /// Long name without dashes, e.g. `home` for `--home`.
        let name: String
        /// Placeholder shown in help for the value; nil for a boolean flag.
        let value: String?
        let help: String
        /// Whether the option may be given several times (values collected in order).
        var isRepeatable: Bool = false
        /// Whether the option may also be given alone, as a flag (`--serve-model [PATH]`).
        var valueIsOptional: Bool = false
        /// A one-letter spelling, as `-X` for curl-like commands.
        var short: Character? = nil

        static func flag(_ name: String, _ help: String) -> Option {
            Option(name: name, value: nil, help: help)
        }
    }

    var usage: String {
        var words = ["tributary"] + path
        words += positionals.map { $0.isRequired ? "<\($0.name)>" : "[<\($0.name)>]" }
        if !options.isEmpty { words.append("[options]") }
        return words.joined(separator: " ")
    }

    var help: String {
        var lines = ["\(summary)", "", "Usage: \(usage)"]
        if !discussion.isEmpty { lines += ["", discussion] }
        if !positionals.isEmpty {
            lines += ["", "Arguments:"]
            for positional in positionals {
                lines.append(Self.row("<\(positional.name)>", positional.help))
            }
        }
        lines += ["", "Options:"]
        for option in options {
            var left = (option.short.map { "-\($0), " } ?? "") + "--\(option.name)"
            if let value = option.value { left += option.valueIsOptional ? " [\(value)]" : " \(value)" }
            lines.append(Self.row(left, option.help + (option.isRepeatable ? " (repeatable)" : "")))
        }
        lines.append(Self.row("-h, --help", "Show this help."))
        return lines.joined(separator: "\n")
    }

    static func row(_ left: String, _ right: String) -> String {
        let width = 28
        let padded = left.count < width ? left + String(repeating: " ", count: width - left.count) : left + "  "
        return "  " + padded + right
    }
}

/// A command-line mistake: reported as one line on stderr with exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A failure while running a well-formed command: one line on stderr, exit status 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
