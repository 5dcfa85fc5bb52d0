import Foundation
import Testing

/// `tributary train` as a process: bit-identical adapters for one seed and thread count, a
/// resume after SIGKILL that ends where an uninterrupted run ends, and clear refusals. One
/// thread: these processes run beside the rest of the suite (GradientTests hold two-thread
/// runs to bit identity in process).
@Suite(.serialized) struct TrainTests {
    static let documents = [
        "The lighthouse keeper of Brannock Point counts ships at dawn.",
        "Copper kettles hum when the water inside them starts to boil.",
        "Every spring the valley of Orrin floods and the frogs return.",
        "A good map shows where the roads end, not only where they go.",
        "The clockmaker's apprentice learned patience before precision.",
        "Salt from the eastern marshes was once traded for silver.",
    ]

    static func arguments(_ data: String, _ out: String) -> [String] {
        ["train", "--datanet", data, "--out", out, "--epochs", "3", "--batch-size", "2", "--max-tokens-per-doc", "24", "--threads", "1", "--seed", "5", "--no-index"]
    }

    @Test func sameSeedSameAdapterAndResumeAfterKillMatches() throws {
        let directory = Tributary.temporaryDirectory("train")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/notes.jsonl"
        try Self.documents.map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)

        let first = try Tributary.run(Self.arguments(data, directory + "/a") + ["--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [String: Any]
        #expect((summary["adapter"] as? String)?.count == 64 && summary["steps"] as? Int == 9)
        let second = try Tributary.run(Self.arguments(data, directory + "/b"))
        #expect(second.status == 0 && second.stdout.contains(summary["adapter"] as! String), "\(second.stderr)")
        let reference = try Data(contentsOf: URL(fileURLWithPath: directory + "/a/adapter_model.safetensors"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/b/adapter_model.safetensors")) == reference)

        // Killed once the first epoch's checkpoint exists, i.e. inside the second epoch.
        let out = directory + "/c", checkpoint = out + "/checkpoint.safetensors"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tributary.binary)
        process.arguments = Self.arguments(data, out)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint), process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        #expect(process.isRunning, "training ended before it could be killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(try Self.metadata(checkpoint)["epochs_done"] == "1")
        #expect(!FileManager.default.fileExists(atPath: out + "/adapter_model.safetensors"))

        let fresh = try Tributary.run(Self.arguments(data, out))
        #expect(fresh.status == 1 && fresh.stderr.contains("--resume"), "\(fresh.stderr)")
        let otherSeed = try Tributary.run(Self.arguments(data, out).map { $0 == "5" ? "6" : $0 } + ["--resume"])
        #expect(otherSeed.status == 1 && otherSeed.stderr.contains("seed"), "\(otherSeed.stderr)")
        let resumed = try Tributary.run(Self.arguments(data, out) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter_model.safetensors")) == reference)
        #expect(try Self.metadata(checkpoint)["epochs_done"] == "3")
    }

    @Test func badDataAndSettingsAreRefusedWithTheReason() throws {
        let directory = Tributary.temporaryDirectory("train-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/bad.jsonl", short = directory + "/short.jsonl", twice = directory + "/twice.jsonl"
        try "{\"text\": \"fine\"}\n{\"text\": \"unterminated}\n".write(toFile: data, atomically: true, encoding: .utf8)
        try "{\"text\": \"a\"}\n{\"text\": \"b\"}\n".write(toFile: short, atomically: true, encoding: .utf8)
        try "{\"text\": \"fine\"}\n{\"text\": \"other\"}\n{\"text\": \"fine\"}\n".write(toFile: twice, atomically: true, encoding: .utf8)
        for (arguments, message) in [
            (["train", "--datanet", data, "--out", directory + "/o"], "line 2"),
            (["train", "--datanet", directory + "/missing.jsonl", "--out", directory + "/o"], "missing.jsonl"),
            (["train", "--datanet", data, "--out", directory + "/o", "--targets", "q_proj,w_proj"], "w_proj"),
            (["train", "--datanet", data, "--out", directory + "/o", "--rank", "0"], "--rank"),
            (["train", "--datanet", short, "--out", directory + "/o", "--threads", "1"], "nothing to predict"),
            (["train", "--datanet", twice, "--out", directory + "/o", "--threads", "1"], "line 3: the same document as line 1"),
        ] {
            let result = try Tributary.run(arguments)
            let last = result.stderr.split(separator: "\n").last ?? ""
            #expect(result.status != 0 && last.hasPrefix("error: ") && last.contains(message), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/o/adapter_model.safetensors"))
        }
    }

    /// A document whose prompt fills `--max-tokens-per-doc` cannot be trained on: `train` says
    /// so, naming it, before it starts, and counts it in `--json`.
    @Test func documentsWithNothingToPredictAreNamed() throws {
        let directory = Tributary.temporaryDirectory("train-untrained")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/notes.jsonl"
        let lines = Self.documents.prefix(3).map { "{\"text\": \"\($0)\"}" }
            + ["{\"prompt\": \"\(Self.documents[3]) \(Self.documents[4])\", \"completion\": \" Yes.\"}"]
        try lines.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let trained = try Tributary.run(["train", "--datanet", data, "--out", directory + "/a", "--epochs", "1", "--max-tokens-per-doc", "8",
                                         "--threads", "1", "--no-index", "--json"])
        #expect(trained.status == 0 && trained.stderr.contains("1 of 4 documents have nothing to predict") && trained.stderr.contains("(documents 4)"), "\(trained.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as? [String: Any]
        #expect(summary?["untrained_documents"] as? Int == 1)
    }

    /// The `__metadata__` strings of a safetensors file.
    static func metadata(_ path: String) throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(length)))) as! [String: Any]
        return header["__metadata__"] as? [String: String] ?? [:]
    }
}
