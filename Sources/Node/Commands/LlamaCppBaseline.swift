import Foundation

/// The llama.cpp side of `tributary bench inference` and `bench lora`: a Python script using
/// llama-cpp-python, run on the same workload, printing its figures as one JSON object.
enum LlamaCppBaseline {
    /// Runs `--baseline-script` (default `defaultScript`) with `--baseline-python` (default the
    /// venv `installer` creates) on `workload`, written to a temporary JSON file.
    static func run(
        _ arguments: ParsedArguments, defaultScript: String, installer: String, model: String, threads: Int, workload: [String: Any]
    ) throws -> [String: Any] {
        let python = arguments.value("baseline-python") ?? ".cache/bench-venv/bin/python"
        let script = arguments.value("baseline-script") ?? defaultScript
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw CommandError("no baseline Python at \(python); run \(installer) (it installs llama-cpp-python) or pass --no-baseline")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-bench-workload-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: workload).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--model", model, "--threads", String(threads), "--workload", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let figures = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CommandError("the llama.cpp baseline failed (status \(process.terminationStatus))")
        }
        return figures
    }
}
