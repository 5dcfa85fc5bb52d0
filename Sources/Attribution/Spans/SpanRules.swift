/// Which verbatim spans `SpanMatcher` reports.
public struct SpanRules: Sendable, Equatable {
    /// Shortest span reported, in tokens (`--span-min-tokens`).
    public var minTokens: Int
    /// Spans occurring more often than this in the datanet are dropped as boilerplate or
    /// common phrasing. 10 is OLMoTrace's default (`maximum_frequency` in the infinigram-api
    /// attribution request): a phrase in ten or fewer places still points at its documents.
    public var occurrencesMax: Int
    /// Most documents listed for one span (the lowest indices). 10, as OLMoTrace's
    /// `maximum_documents_per_span`; it only binds when `occurrencesMax` is raised above it.
    public var documentsMax: Int

    public static let defaultMinTokens = 6
    public static let defaultOccurrencesMax = 10
    public static let defaultDocumentsMax = 10

    public init(minTokens: Int = defaultMinTokens, occurrencesMax: Int = defaultOccurrencesMax, documentsMax: Int = defaultDocumentsMax) {
        precondition(minTokens >= 1, "a span has at least one token")
        precondition(occurrencesMax >= 1, "a span that occurs is kept only if it may occur at least once")
        precondition(documentsMax >= 1, "a span names at least one document")
        self.minTokens = minTokens
        self.occurrencesMax = occurrencesMax
        self.documentsMax = documentsMax
    }
}
