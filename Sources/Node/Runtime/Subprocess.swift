import Foundation

/// Runs helper programs to completion: this executable's own subcommands (the harnesses make
/// homes with `tributary init`) and system tools (`ip`).
enum Subprocess {
    /// This executable.
    static let tributary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

    /// Runs `executable` with `arguments`; throws, with what it printed (stdout and stderr),
    /// unless it exits 0.
    static func run(_ executable: URL, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let said = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: said, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw CommandError("\(executable.lastPathComponent) \(arguments.joined(separator: " ")): \(text)")
        }
    }

    /// Runs `executable` (a path, or a name looked up on PATH) with `arguments`, its stderr
    /// passed through to ours, and returns its stdout; throws unless it exits 0.
    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = executable.contains("/") ? arguments : [executable] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { throw CommandError("cannot run \(executable): \(error.localizedDescription)") }
        let said = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandError("\(executable) \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)")
        }
        return String(decoding: said, as: UTF8.self)
    }
}
