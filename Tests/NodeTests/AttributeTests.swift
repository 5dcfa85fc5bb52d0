import Crypto
import Foundation
import Testing

/// `tributary attribute index` and `tributary attribute` on an adapter trained on invented
/// facts by `tributary train`: the fact a question is about ranks first, the JSON has the
/// issue's fields, verbatim copies are found, and a damaged index or another datanet is refused.
@Suite(.serialized) struct AttributeTests {
    static let facts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InferenceTests/Fixtures/facts.jsonl").path

    @Test func factsAreTracedToTheirDocuments() throws {
        let directory = Tributary.temporaryDirectory("attribute")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The facts with two contributors, alternating.
        let contributors = [String(repeating: "a1", count: 32), String(repeating: "b2", count: 32)]
        let lines = try String(contentsOfFile: Self.facts, encoding: .utf8).split(separator: "\n")
        var texts: [String] = []
        var datanet = ""
        for (index, line) in lines.enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            texts.append(object["text"]!)
            let encoded = try JSONSerialization.data(withJSONObject: ["text": object["text"]!, "contributor": contributors[index % 2]], options: [.sortedKeys])
            datanet += String(decoding: encoded, as: UTF8.self) + "\n"
        }
        let data = directory + "/facts.jsonl", adapter = directory + "/adapter"
        try datanet.write(toFile: data, atomically: true, encoding: .utf8)
        let trained = try Tributary.run(["train", "--datanet", data, "--out", adapter, "--learning-rate", "2e-3", "--batch-size", "1",
                                         "--epochs", "6", "--warmup-steps", "0", "--threads", "1", "--json"])
        #expect(trained.status == 0, "\(trained.stderr)")
        // train built the index at its end; attribute index builds the same one again.
        let summary = try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as! [String: Any]
        #expect(FileManager.default.fileExists(atPath: adapter + "/attribution/index.bin"))
        let indexed = try Tributary.run(["attribute", "index", "--adapter", adapter, "--datanet", data, "--threads", "1"])
        #expect(indexed.status == 0 && indexed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == summary["attribution_root"] as? String, "\(indexed.stderr)")

        let varnholm = Digest.blake2bHex(texts[0])
        func attribute(_ extra: [String], completion: String = " Quelspire.") throws -> [String: Any] {
            let result = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "The capital of the island of Varnholm is",
                                            "--completion", completion, "--threads", "1", "--json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        }
        for extra in [[], ["--method", "datainf"], ["--method", "datainf", "--exact"], ["--top", "0"]] {
            let json = try attribute(extra)
            let influence = json["influence"] as! [[String: Any]]
            #expect(influence.count == 6, "\(extra)")
            #expect(influence.first?["doc"] as? String == varnholm, "\(extra): \(influence)")
            let scores = influence.map { $0["score"] as! Double }
            #expect(scores == scores.sorted(by: >))
            let method = json["method"] as! [String: Any]
            #expect(method["name"] as? String == (extra.contains("datainf") ? "datainf" : "cosine") && method["exact"] as? Bool == extra.contains("--exact"))
            #expect(Set(method.keys) == ["name", "exact", "projection_dimension", "seed", "damping"])
            let shares = json["contributors"] as! [[String: Any]]
            #expect(abs(shares.reduce(0.0) { $0 + ($1["weight"] as! Double) } - 1) < 1e-9 && Set(shares.map { $0["address"] as! String }).isSubset(of: contributors))
            #expect(json["adapter"] as? String != nil && json["base_model"] as? String != nil && json["completion"] as? String == " Quelspire.")
        }

        // A verbatim copy of a fact is a span naming its document.
        let copied = try attribute([], completion: " Quelspire. The tallest mountain on Kessaly is Mount Dravenhorn.")
        let spans = copied["spans"] as! [[String: Any]]
        #expect(spans.contains { ($0["docs"] as? [String]) == [Digest.blake2bHex(texts[3])] && ($0["text"] as! String).contains("Kessaly") }, "\(spans)")

        // Another datanet file, and a damaged index, are refused.
        try datanet.split(separator: "\n").dropLast().joined(separator: "\n").write(toFile: directory + "/fewer.jsonl", atomically: true, encoding: .utf8)
        let other = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", directory + "/fewer.jsonl", "--prompt", "x", "--completion", " y"])
        #expect(other.status == 1 && other.stderr.contains("not the one the index was built from"), "\(other.stderr)")
        let indexPath = adapter + "/attribution/index.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: indexPath)))
        bytes[bytes.count - 3] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
        let damaged = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "x", "--completion", " y"])
        #expect(damaged.status == 1 && damaged.stderr.contains("root"), "\(damaged.stderr)")
    }
}

private extension Digest {
    static func blake2bHex(_ text: String) -> String { Digest.blake2b(Array(text.utf8)).hex }
}
