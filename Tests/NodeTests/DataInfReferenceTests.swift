import Attribution
import Foundation
import Testing

/// Issue 21's first acceptance point on every run: `tributary attribute --exact` against
/// PyTorch's scores of the same formulas — DataInf, the gradient dot product and cosine —
/// for a committed PEFT adapter, datanet and query. `bench/datainf-fixture.sh` computed them
/// with PyTorch + PEFT (`bench/datainf_reference.py`) into `Fixtures/datainf-reference`;
/// `make datainf-reference` runs the same check on an adapter trained by `tributary train`.
@Suite struct DataInfReferenceTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = repository.appendingPathComponent("Tests/NodeTests/Fixtures/datainf-reference")

    /// Every method's scores rank the 26 documents as PyTorch's do: Spearman ≥ 0.99 and the
    /// same five documents first.
    @Test func exactScoresMatchPyTorch() throws {
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture.appendingPathComponent("reference.json"))) as! [String: Any]
        let directory = Tributary.temporaryDirectory("datainf-reference")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // `attribute index` writes beside the adapter, so it works on a copy.
        let adapter = directory + "/adapter", datanet = Self.fixture.appendingPathComponent("datanet.jsonl").path
        try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent(reference["adapter"] as! String).path, toPath: adapter)
        let indexed = try Tributary.run(["attribute", "index", "--adapter", adapter, "--datanet", datanet, "--threads", "1"])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        let query = reference["query_tokens"] as! [String: Any]
        let methods = reference["methods"] as! [String: [[String: Any]]]
        #expect(Set(methods.keys) == ["cosine", "datainf", "dot"])
        for (method, expected) in methods {
            let result = try Tributary.run([
                "attribute", "--adapter", adapter, "--datanet", datanet, "--prompt", reference["prompt"] as! String,
                "--completion", reference["completion"] as! String, "--method", method, "--exact", "--top", "0", "--json", "--threads", "1",
            ])
            #expect(result.status == 0, "\(method): \(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
            #expect(json["completion_tokens"] as? [Int] == query["completion_tokens"] as? [Int], "both sides score the same tokens")
            let ours = Dictionary(uniqueKeysWithValues: (json["influence"] as! [[String: Any]]).map { ($0["doc"] as! String, $0["score"] as! Double) })
            let theirs = Dictionary(uniqueKeysWithValues: expected.map { ($0["doc"] as! String, $0["score"] as! Double) })
            #expect(ours.count == 26 && Set(ours.keys) == Set(theirs.keys), "\(method): the same documents")
            let documents = theirs.keys.sorted()
            let spearman = RankingMetrics.spearman(documents.map { ours[$0] ?? 0 }, documents.map { theirs[$0]! })
            #expect(spearman >= 0.99, "\(method): Spearman \(spearman)")
            let top = { (scores: [String: Double]) in Set(RankingMetrics.ranking(scores: documents.map { scores[$0] ?? 0 }, documentIDs: documents).prefix(5)) }
            #expect(top(ours) == top(theirs), "\(method): the same top 5")
        }
    }
}
