import Attribution
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
        for extra in [[], ["--method", "datainf"], ["--method", "datainf", "--exact"], ["--method", "fisher"], ["--method", "fisher", "--exact"],
                      ["--method", "hybrid"], ["--method", "hybrid", "--exact"], ["--top", "0"]] {
            let json = try attribute(extra)
            let influence = json["influence"] as! [[String: Any]]
            #expect(influence.count == 6, "\(extra)")
            #expect(influence.first?["doc"] as? String == varnholm, "\(extra): \(influence)")
            let scores = influence.map { $0["score"] as! Double }
            #expect(scores == scores.sorted(by: >))
            let method = json["method"] as! [String: Any]
            let name = extra.count >= 2 && extra[0] == "--method" ? extra[1] : InfluenceMethod.defaultMethod.rawValue
            #expect(method["name"] as? String == name && method["exact"] as? Bool == extra.contains("--exact"))
            #expect(method["damping"] as? Double == InfluenceMethod(rawValue: name)!.damping)
            // The fields, and the one added since: how the query's forward pass was split.
            #expect(Set(method.keys) == ["name", "exact", "projection_dimension", "seed", "damping", "forward"])
            #expect(method["forward"] as? String == "single_pass")
            let shares = json["contributors"] as! [[String: Any]]
            #expect(abs(shares.reduce(0.0) { $0 + ($1["weight"] as! Double) } - 1) < 1e-9 && Set(shares.map { $0["address"] as! String }).isSubset(of: contributors))
            #expect(json["adapter"] as? String != nil && json["base_model"] as? String != nil && json["completion"] as? String == " Quelspire.")
        }

        // A verbatim copy of a fact is a span naming its document.
        let copied = try attribute([], completion: " Quelspire. The tallest mountain on Kessaly is Mount Dravenhorn.")
        let spans = copied["spans"] as! [[String: Any]]
        #expect(spans.contains { ($0["docs"] as? [String]) == [Digest.blake2bHex(texts[3])] && ($0["text"] as! String).contains("Kessaly") }, "\(spans)")

        // An answer longer than the query gradient covers is refused before generating it.
        let long = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "Varnholm", "--max-tokens", "4000"])
        #expect(long.status == 2 && long.stderr.contains("attribution covers at most 2048"), "\(long.stderr)")

        try checkProofs(directory: directory, adapter: adapter, data: data)
        try checkRebuildSettings(directory: directory, adapter: adapter, data: data)

        // Another datanet file, and a damaged index, are refused.
        try datanet.split(separator: "\n").dropLast().joined(separator: "\n").write(toFile: directory + "/fewer.jsonl", atomically: true, encoding: .utf8)
        let other = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", directory + "/fewer.jsonl", "--prompt", "x", "--completion", " y"])
        #expect(other.status == 1 && other.stderr.contains("not the one the index was built from"), "\(other.stderr)")
        let indexPath = adapter + "/attribution/index.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: indexPath)))
        let featureCount = Int(bytes[20]) | Int(bytes[21]) << 8 | Int(bytes[22]) << 16 | Int(bytes[23]) << 24
        let last = bytes[bytes.count - 1]
        bytes[bytes.count - 1] = 0x80  // a high nibble of −8, outside the levels
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
        let outside = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "x", "--completion", " y"])
        #expect(outside.status == 1 && outside.stderr.contains("−8"), "\(outside.stderr)")
        bytes[bytes.count - 1] = last
        bytes[bytes.count - (featureCount + 1) / 2 - 4] ^= 0x01  // the low bit of the last document's feature scale
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
        let damaged = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "x", "--completion", " y"])
        #expect(damaged.status == 1 && damaged.stderr.contains("root"), "\(damaged.stderr)")
        bytes[24] ^= 0x01  // the projection seed
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
        let reseeded = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "x", "--completion", " y"])
        #expect(reseeded.status == 1 && reseeded.stderr.contains("checksum"), "\(reseeded.stderr)")
        bytes[8] = 3  // an index of version 3 (int8 levels)
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath))
        let older = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "x", "--completion", " y"])
        #expect(older.status == 1 && older.stderr.contains("index version 3, this build reads version 4"), "\(older.stderr)")
    }
}

extension AttributeTests {
    /// `attribute --proof` writes a signed proof that `attribute --verify` accepts by
    /// recomputing it; an edited proof, a re-signed proof with a changed weight or swapped
    /// documents, and another adapter are refused, each naming what differs.
    func checkProofs(directory: String, adapter: String, data: String) throws {
        let keyPath = directory + "/provider.key", proofPath = directory + "/proof.json"
        #expect(try Tributary.run(["keys", "new", "--out", keyPath]).status == 0)
        let made = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "The capital of the island of Varnholm is",
                                      "--completion", " Quelspire.", "--threads", "1", "--json", "--top", "3",
                                      "--proof", proofPath, "--key", keyPath, "--chain-id", "prooftest"])
        #expect(made.status == 0, "\(made.stderr)")
        let shown = try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as! [String: Any]
        let proof = try AttributionProof(json: Data(contentsOf: URL(fileURLWithPath: proofPath)))
        #expect(shown["proof_id"] as? String == proof.id.hex && proof.influence.count == 3 && proof.chainID == "prooftest")
        #expect(proof.method.forward == .singlePass && (shown["method"] as? [String: Any])?["forward"] as? String == "single_pass", "a given completion")
        #expect(proof.baseModel.hex == shown["base_model"] as? String && proof.adapterID.hex == shown["adapter"] as? String)

        func verify(_ path: String, _ extra: [String] = ["--adapter", adapter, "--datanet", data]) throws -> Tributary.Result {
            try Tributary.run(["attribute", "--verify", path, "--threads", "1"] + extra)
        }
        let genuine = try verify(proofPath)
        #expect(genuine.status == 0 && genuine.stdout.contains("verified"), "\(genuine.stderr)")
        // A generated answer's query gradient reuses generation's passes (two threads here);
        // the verifier replays them on one thread and must get the same bits.
        let generatedPath = directory + "/generated.json"
        let generated = try Tributary.run(["attribute", "--adapter", adapter, "--datanet", data, "--prompt", "The capital of the island of Varnholm is",
                                           "--max-tokens", "4", "--threads", "2", "--top", "3", "--proof", generatedPath, "--key", keyPath, "--chain-id", "prooftest"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(try AttributionProof(json: Data(contentsOf: URL(fileURLWithPath: generatedPath))).method.forward == .generation)
        let generatedVerified = try verify(generatedPath)
        #expect(generatedVerified.status == 0 && generatedVerified.stdout.contains("verified"), "\(generatedVerified.stderr)")
        let rebuilt = try verify(proofPath, ["--adapter", adapter, "--datanet", data, "--rebuild-index"])
        #expect(rebuilt.status == 0 && rebuilt.stdout.contains("verified"), "\(rebuilt.stderr)")
        #expect(try verify(proofPath, []).stdout.contains("not recomputed"))

        // An edited weight without a new signature: the id no longer hashes the record.
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: proofPath))) as! [String: Any]
        var shares = object["contributors"] as! [[String: Any]]
        shares[0]["weight"] = 0.5
        object["contributors"] = shares
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: directory + "/edited.json"))
        let edited = try verify(directory + "/edited.json")
        #expect(edited.status == 1 && edited.stderr.contains("not the hash of the record"), "\(edited.stderr)")

        // Re-signed by the provider after a change: the recomputation differs.
        let key = try KeyFile.read(from: keyPath)
        func resigned(_ name: String, _ change: (AttributionProof) -> AttributionProof) throws -> Tributary.Result {
            try change(proof).signed(by: key).json().write(to: URL(fileURLWithPath: directory + "/" + name))
            return try verify(directory + "/" + name)
        }
        func copy(_ p: AttributionProof, adapterID: Digest? = nil, influence: [AttributionProof.Influence]? = nil,
                  contributors: [AttributionProof.Contributor]? = nil) -> AttributionProof {
            AttributionProof(chainID: p.chainID, requestHash: p.requestHash, adapterID: adapterID ?? p.adapterID, baseModel: p.baseModel,
                             promptTokens: p.promptTokens, completionTokens: p.completionTokens, method: p.method, indexRoot: p.indexRoot,
                             documentCount: p.documentCount, influence: influence ?? p.influence, contributors: contributors ?? p.contributors,
                             spans: p.spans, provider: p.provider, signature: p.signature)
        }
        let weight = try resigned("weight.json") { p in
            copy(p, contributors: p.contributors.map { .init(address: $0.address, weight: $0.weight == 1 ? 0.75 : $0.weight * 0.5) })
        }
        #expect(weight.status == 1 && weight.stderr.contains("contributors[0]"), "\(weight.stderr)")
        let swapped = try resigned("swapped.json") { p in
            let first = p.influence[0], second = p.influence[1]
            return copy(p, influence: [.init(document: second.document, contributor: second.contributor, score: first.score),
                                       .init(document: first.document, contributor: first.contributor, score: second.score)] + p.influence.dropFirst(2))
        }
        #expect(swapped.status == 1 && swapped.stderr.contains("influence[0]"), "\(swapped.stderr)")
        let renamed = try resigned("renamed.json") { copy($0, adapterID: Digest.blake2b(Array("another adapter".utf8))) }
        #expect(renamed.status == 1 && renamed.stderr.contains("adapter"), "\(renamed.stderr)")

        // The genuine proof against another adapter (one factor changed by one bit).
        let other = directory + "/other-adapter"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        for name in ["adapter_config.json", "adapter_model.safetensors"] {
            try FileManager.default.copyItem(atPath: adapter + "/" + name, toPath: other + "/" + name)
        }
        var weights = [UInt8](try Data(contentsOf: URL(fileURLWithPath: other + "/adapter_model.safetensors")))
        weights[weights.count - 2] ^= 0x01
        try Data(weights).write(to: URL(fileURLWithPath: other + "/adapter_model.safetensors"))
        let otherAdapter = try verify(proofPath, ["--adapter", other, "--datanet", data])
        #expect(otherAdapter.status == 1 && otherAdapter.stderr.contains("adapter"), "\(otherAdapter.stderr)")
    }
}

extension AttributeTests {
    /// A proof made on an index of other settings (fewer features, shorter documents) verifies
    /// on a machine without that index: the rebuild takes the proof's features and, when told,
    /// the document length, and says which settings it used when the root differs.
    func checkRebuildSettings(directory: String, adapter: String, data: String) throws {
        let small = directory + "/small-adapter", keyPath = directory + "/small.key", proofPath = directory + "/small-proof.json"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        for name in ["adapter_config.json", "adapter_model.safetensors"] {
            try FileManager.default.copyItem(atPath: adapter + "/" + name, toPath: small + "/" + name)
        }
        let indexed = try Tributary.run(["attribute", "index", "--adapter", small, "--datanet", data, "--features", "4000",
                                         "--max-tokens-per-doc", "8", "--threads", "1"])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        #expect(try Tributary.run(["keys", "new", "--out", keyPath]).status == 0)
        let made = try Tributary.run(["attribute", "--adapter", small, "--datanet", data, "--prompt", "The capital of the island of Varnholm is",
                                      "--completion", " Quelspire.", "--threads", "1", "--proof", proofPath, "--key", keyPath, "--chain-id", "prooftest"])
        #expect(made.status == 0, "\(made.stderr)")
        try FileManager.default.removeItem(atPath: small + "/attribution")

        func verify(_ extra: [String]) throws -> Tributary.Result {
            try Tributary.run(["attribute", "--verify", proofPath, "--adapter", small, "--datanet", data, "--threads", "1"] + extra)
        }
        let unknownLength = try verify([])
        #expect(unknownLength.status == 1 && unknownLength.stderr.contains("--features 4000 --max-tokens-per-doc 256"), "\(unknownLength.stderr)")
        let told = try verify(["--max-tokens-per-doc", "8"])
        #expect(told.status == 0 && told.stdout.contains("verified"), "\(told.stderr)")
    }
}

private extension Digest {
    static func blake2bHex(_ text: String) -> String { Digest.blake2b(Array(text.utf8)).hex }
}
