import Foundation

/// Entry point of the `tributary` executable: finds the subcommand, parses its arguments, runs it.
/// Errors become one line on stderr: exit 2 for command-line mistakes, 1 for failures.
let arguments = Array(CommandLine.arguments.dropFirst())
exit(CommandDispatcher(commands: CommandTable.all).run(arguments))
