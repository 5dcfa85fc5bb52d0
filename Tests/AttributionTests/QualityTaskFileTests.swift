import Attribution
import Crypto
import Foundation
import Inference
import Testing

/// The generators are deterministic and their files are what the bench, `tributary train`
/// and test tooling read.
@Suite struct QualityTaskFileTests {
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tributary-quality-\(UUID().uuidString)").path
    }

    static func generators(seed: UInt64) -> [@Sendable () -> AttributionTask] {
        [{ PlantedFactsGenerator(seed: seed).task() },
         { PlantedFactsGenerator(seed: seed, askedPhrasing: true).task() },
         { SentenceTransformationsGenerator(seed: seed).task() },
         { MathTemplatesGenerator(seed: seed).task() }]
    }

    static func files(of task: AttributionTask) throws -> (datanet: Data, queries: Data) {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try task.write(to: directory + "/" + task.name)
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(task.name)
        return (try Data(contentsOf: folder.appendingPathComponent("datanet.jsonl")),
                try Data(contentsOf: folder.appendingPathComponent("queries.jsonl")))
    }

    /// The same seed gives byte-identical files; another seed gives other documents and queries.
    @Test(arguments: 0..<4) func sameSeedSameFiles(generator: Int) throws {
        let first = try Self.files(of: Self.generators(seed: 7)[generator]())
        let again = try Self.files(of: Self.generators(seed: 7)[generator]())
        let other = try Self.files(of: Self.generators(seed: 8)[generator]())
        #expect(first.datanet == again.datanet && first.queries == again.queries)
        #expect(first.datanet != other.datanet && first.queries != other.queries)
    }

    /// Seed 1's files, pinned: the generators draw with their own arithmetic on SplitMix64, so
    /// these bytes must not change with the platform or the Swift version. (A deliberate change
    /// to a template or a draw changes them too; then update the digests here.)
    @Test func seedOneIsPinned() throws {
        let digests = try Self.generators(seed: 1).map { generate -> String in
            let files = try Self.files(of: generate())
            return Digest.blake2b(files.datanet).hex.prefix(16) + " " + Digest.blake2b(files.queries).hex.prefix(16)
        }
        #expect(digests == ["f5fadda60c80e7fa d295f11b33fe5545", "d385b4e557a5ec56 2d32dbd6be5156df", "c23689a0fe9ca647 a04bc06266c314da", "7e72022ae093dba5 9afa7d9a85dc4df1"])
    }

    /// `datanet.jsonl` reads back as the same documents (ids, contributors); every line of
    /// `queries.jsonl` is one query with sorted relevant ids, all of them documents of the file.
    @Test func filesReadBack() throws {
        let task = MathTemplatesGenerator(seed: 3, trainingPerClass: 6, queriesPerClass: 2).task()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try task.write(to: directory)
        let documents = try DatanetFile.read(path: directory + "/datanet.jsonl")
        #expect(documents == task.documents)
        let lines = try String(contentsOfFile: directory + "/queries.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == task.queries.count)
        let ids = Set(documents.map(\.id))
        for (line, query) in zip(lines, task.queries) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["id", "label", "prompt", "completion", "relevant"])
            #expect(object["id"] as? String == query.id && object["label"] as? String == query.label)
            #expect(object["prompt"] as? String == query.prompt && object["completion"] as? String == query.completion)
            let relevant = try #require(object["relevant"] as? [String])
            #expect(relevant == query.relevant.sorted() && relevant.count == 6)
            #expect(Set(relevant).isSubset(of: ids))
            #expect(line.hasPrefix("{\"completion\":"), "keys are sorted")
        }
    }
}
