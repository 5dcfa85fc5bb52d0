import Attribution
import Crypto
import Foundation
import Testing

/// `"attribution": true` on a serving node: the answer carries the attribution and a proof id,
/// `GET /v1/attributions/{id}` gives the signed proof, `attribute --verify` accepts it by
/// recomputation; the base model, an adapter without an index, an answer longer than attribution
/// covers and a node with attribution off are answered as documented, and a node keeps only
/// its newest proofs past `attribution_proofs_bytes_max`.
@Suite(.serialized) struct ServingAttributionTests {
    @Test(.timeLimit(.minutes(5))) func answersCarryAVerifiableSignedAttribution() throws {
        let (directory, home) = try ServingTests.home("serving-attribution")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let contributors = [String(repeating: "a1", count: 32), String(repeating: "b2", count: 32)]
        var datanet = ""
        for (index, line) in try String(contentsOfFile: AttributeTests.facts, encoding: .utf8).split(separator: "\n").enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            let encoded = try JSONSerialization.data(withJSONObject: ["text": object["text"]!, "contributor": contributors[index % 2]], options: [.sortedKeys])
            datanet += String(decoding: encoded, as: UTF8.self) + "\n"
        }
        let data = directory + "/facts.jsonl", adapter = home + "/adapters/facts"
        try datanet.write(toFile: data, atomically: true, encoding: .utf8)
        let trained = try Tributary.run(["train", "--datanet", data, "--out", adapter, "--learning-rate", "2e-3", "--batch-size", "1",
                                         "--epochs", "6", "--warmup-steps", "0", "--threads", "1"])
        #expect(trained.status == 0, "\(trained.stderr)")
        // The same adapter with one bit changed, and no index.
        let plain = home + "/adapters/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: adapter + "/adapter_config.json", toPath: plain + "/adapter_config.json")
        var weights = [UInt8](try Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_model.safetensors")))
        weights[weights.count - 2] ^= 0x01
        try Data(weights).write(to: URL(fileURLWithPath: plain + "/adapter_model.safetensors"))

        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        func ask(_ model: String, stream: Bool = false, attribution: Any = true) throws -> HTTP.Response {
            try HTTP.post("\(node.url)/v1/completions", json: [
                "model": model, "prompt": "The capital of the island of Varnholm is", "max_tokens": 6, "temperature": 0, "stream": stream,
                "attribution": attribution,
            ])
        }
        let answer = try ask("facts")
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        let attribution = answer.json["attribution"] as? [String: Any] ?? [:]
        #expect(attribution["status"] as? String == "attributed", "\(attribution)")
        let influence = attribution["influence"] as? [[String: Any]] ?? []
        #expect(influence.count == 6 && Set(attribution.keys).isSuperset(of: ["adapter", "base_model", "completion", "completion_tokens", "method", "contributors", "spans", "proof_id"]))
        let text = ((answer.json["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        #expect(attribution["completion"] as? String == text)

        // The proof, by id: signed by the node's key, and recomputed from the adapter and datanet.
        let proofID = attribution["proof_id"] as? String ?? ""
        let fetched = try HTTP.get("\(node.url)/v1/attributions/\(proofID)")
        #expect(fetched.status == 200)
        let proof = try AttributionProof(json: fetched.body)
        #expect(proof.id.hex == proofID && proof.chainID == "serving" && proof.requestHash != .zero)
        #expect(proof.provider == (try KeyFile.read(from: home + "/node.key")).publicKey)
        try fetched.body.write(to: URL(fileURLWithPath: directory + "/served.json"))
        let verified = try Tributary.run(["attribute", "--verify", directory + "/served.json", "--adapter", adapter, "--datanet", data, "--threads", "1"])
        #expect(verified.status == 0 && verified.stdout.contains("verified"), "\(verified.stderr)")
        #expect(try HTTP.get("\(node.url)/v1/attributions/\(String(repeating: "0", count: 64))").status == 404)
        #expect(try HTTP.get("\(node.url)/v1/attributions/xyz").status == 400)

        // Streamed: the attribution is the chunk before [DONE].
        let streamed = try ask("facts", stream: true, attribution: ["method": "dot", "top": 2])
        let events = ServingTests.events(streamed.body)
        #expect(events.last == "[DONE]")
        let last = events.dropLast().last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let streamedAttribution = last?["attribution"] as? [String: Any]
        #expect(streamedAttribution?["status"] as? String == "attributed" && (streamedAttribution?["influence"] as? [Any])?.count == 2)
        #expect((streamedAttribution?["method"] as? [String: Any])?["name"] as? String == "dot")

        // Refused: the base model, an adapter without an index, a bad request.
        let base = try ask(ServingTests.model)
        #expect(base.status == 400 && String(decoding: base.body, as: UTF8.self).contains("needs an adapter"))
        let unindexed = try ask("plain")
        #expect(unindexed.status == 400 && String(decoding: unindexed.body, as: UTF8.self).contains("no attribution index"))
        #expect(try ask("facts", attribution: ["method": "nope"]).status == 400)
        #expect(try ask("facts", attribution: false).json["attribution"] == nil)
        let long = try HTTP.post("\(node.url)/v1/completions", json: ["model": "facts", "prompt": "Varnholm", "max_tokens": 2048, "attribution": true])
        #expect(long.status == 400 && String(decoding: long.body, as: UTF8.self).contains("covers at most 2048"), "\(long.json)")
        node.stop()

        let configPath = home + "/config.json"
        func configure(_ key: String, _ value: Int) throws {
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
            config[key] = value
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        }
        // A store of 1 KiB keeps only the newest proof: the earlier ones go at start and on each write.
        try configure("attribution_proofs_bytes_max", 1_024)
        let small = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        #expect(try HTTP.get("\(small.url)/v1/attributions/\(proofID)").status == 404)
        let proofIDs = try (0..<2).map { index in
            let answer = try HTTP.post("\(small.url)/v1/completions", json: ["model": "facts", "prompt": "Varnholm \(index)", "max_tokens": 3, "attribution": true])
            return (answer.json["attribution"] as? [String: Any])?["proof_id"] as? String ?? ""
        }
        #expect(try HTTP.get("\(small.url)/v1/attributions/\(proofIDs[0])").status == 404)
        #expect(try HTTP.get("\(small.url)/v1/attributions/\(proofIDs[1])").status == 200)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home + "/attributions").filter { $0.hasSuffix(".json") } == [proofIDs[1] + ".json"])
        small.stop()

        // Attribution off: the answer still comes, with the reason.
        try configure("attribution_queue_max", 0)
        let off = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        let skipped = try HTTP.post("\(off.url)/v1/completions", json: ["model": "facts", "prompt": "Varnholm", "max_tokens": 3, "attribution": true])
        let reason = (skipped.json["attribution"] as? [String: Any])
        #expect(skipped.status == 200 && reason?["status"] as? String == "skipped" && (reason?["reason"] as? String)?.contains("off") == true, "\(skipped.json)")
    }
}
