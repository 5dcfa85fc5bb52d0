/// A maximal span of a completion that occurs verbatim in the datanet.
public struct MatchedSpan: Sendable, Hashable {
    /// The span's tokens decoded.
    public let text: String
    /// Completion token index of the span's first token.
    public let startToken: Int
    /// Completion token index just past the span's last token.
    public let endToken: Int
    /// Indices (in the index's document order) of the documents holding the span: distinct,
    /// ascending, at most `SpanRules.documentsMax`.
    public let documents: [Int]
    /// Occurrences of the span in the datanet (a document may hold several).
    public let count: Int

    public init(text: String, startToken: Int, endToken: Int, documents: [Int], count: Int) {
        precondition(startToken < endToken && !documents.isEmpty && count >= documents.count)
        self.text = text
        self.startToken = startToken
        self.endToken = endToken
        self.documents = documents
        self.count = count
    }

    /// Tokens in the span.
    public var tokenCount: Int { endToken - startToken }

    /// The span as issue 21's `spans` entries: `{"text", "start_token", "end_token", "docs",
    /// "count"}`, with `docs` the ids (`documentIDs[i]` for document index `i`).
    public func json(documentIDs: [String]) -> [String: Any] {
        precondition(documents.allSatisfy { $0 < documentIDs.count }, "a document index outside the \(documentIDs.count) ids")
        return ["text": text, "start_token": startToken, "end_token": endToken, "docs": documents.map { documentIDs[$0] }, "count": count]
    }
}
