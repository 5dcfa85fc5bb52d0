import Foundation
import Inference

/// One task of the attribution quality benchmark: a datanet and the queries attribution is
/// run on, each with the documents that truly taught its answer.
///
/// The generators (`PlantedFactsGenerator`, `SentenceTransformationsGenerator`,
/// `MathTemplatesGenerator`) build them from a seed; `write(to:)` puts them on disk for
/// `tributary train` and for test tooling.
public struct AttributionTask: Hashable, Sendable {
    /// Short name, e.g. `planted-facts`.
    public let name: String
    /// The datanet, in the order it is written and trained on.
    public let documents: [DatanetDocument]
    public let queries: [AttributionQuery]
    /// What a query's loss is taken over when the benchmark attributes it.
    public let queryLoss: QueryLoss

    /// What a query's gradient is the gradient of.
    public enum QueryLoss: Hashable, Sendable {
        /// The completion after the prompt (the query loss `tributary attribute` uses).
        case completion
        /// The prompt and completion as one text, every token after the first predicted:
        /// DataInf's protocol, where a validation example's whole text is scored as its
        /// training examples were trained (`labels = input_ids`).
        case wholeText
    }

    public init(name: String, documents: [DatanetDocument], queries: [AttributionQuery], queryLoss: QueryLoss = .completion) {
        self.name = name
        self.documents = documents
        self.queries = queries
        self.queryLoss = queryLoss
    }

    /// The prompt and completion tokens the benchmark attributes for `query` (see `queryLoss`).
    public func attributedTokens(_ query: AttributionQuery, tokenizer: BPETokenizer) -> (prompt: [Int32], completion: [Int32]) {
        switch queryLoss {
        case .completion:
            return (tokenizer.encode(query.prompt), tokenizer.encode(query.completion))
        case .wholeText:
            let text = tokenizer.encode(query.text)
            precondition(text.count >= 2, "a whole-text query needs two tokens")
            return (Array(text.prefix(1)), Array(text.dropFirst()))
        }
    }

    /// The documents' ids, in datanet order.
    public var documentIDs: [String] { documents.map(\.id) }

    /// Writes `datanet.jsonl` (`DatanetFile.write`) and `queries.jsonl` into `directory`,
    /// creating it. A query line is `{"completion", "id", "label", "prompt", "relevant"}`,
    /// keys sorted, `relevant` the ids in ascending order.
    public func write(to directory: String) throws {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try DatanetFile.write(documents, to: folder.appendingPathComponent("datanet.jsonl").path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for query in queries {
            lines.append(try encoder.encode(query))
            lines.append(0x0A)
        }
        try lines.write(to: folder.appendingPathComponent("queries.jsonl"), options: .atomic)
    }
}

/// A query of an `AttributionTask`: a prompt, the completion to attribute, and the ids of
/// the documents it should be attributed to.
public struct AttributionQuery: Hashable, Sendable, Encodable {
    /// Unique within its task, e.g. `fact-7` or `reverse-words-3`.
    public let id: String
    /// What the query is about: the fact (`capital: Varnholm`) or the class (`reverse-words`).
    public let label: String
    public let prompt: String
    public let completion: String
    /// Ids of the relevant documents (never empty).
    public let relevant: Set<String>

    public init(id: String, label: String, prompt: String, completion: String, relevant: Set<String>) {
        precondition(!relevant.isEmpty, "a query needs at least one relevant document")
        self.id = id
        self.label = label
        self.prompt = prompt
        self.completion = completion
        self.relevant = relevant
    }

    /// What a text retriever searches with: the prompt followed by the completion.
    public var text: String { prompt + completion }

    private enum CodingKeys: String, CodingKey { case id, label, prompt, completion, relevant }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(label, forKey: .label)
        try container.encode(prompt, forKey: .prompt)
        try container.encode(completion, forKey: .completion)
        try container.encode(relevant.sorted(), forKey: .relevant)
    }
}
