import Crypto
import Foundation
import Inference

/// One answer traced to the documents of its adapter's datanet: influence scores of every
/// document, the contributors' shares, and the verbatim spans.
public struct AttributionResult: Sendable {
    public struct Influence: Sendable {
        public let document: Digest
        public let contributor: Digest?
        public let score: Double
    }

    public let adapterID: Digest
    public let completionText: String
    public let completionTokens: [Int32]
    public let method: InfluenceMethod
    public let exact: Bool
    public let projectionDimension: Int
    public let seed: UInt64
    /// Every document by score, highest first, ties by document id.
    public let influence: [Influence]
    /// Positive scores summed per contributor, normalised to 1, largest first (ties by address).
    public let contributors: [(address: Digest, weight: Double)]
    /// Verbatim spans of the completion in the datanet (`SpanMatcher`), their documents as
    /// indices into `documentIDs`.
    public let spans: [MatchedSpan]
    /// The datanet's document ids in index order.
    public let documentIDs: [String]

    /// The `--json` object of `tributary attribute` (the first `top` documents; 0: all).
    public func json(baseModel: String, top: Int) -> [String: Any] {
        let shown = top == 0 ? influence : Array(influence.prefix(top))
        return [
            "adapter": adapterID.hex, "base_model": baseModel, "completion": completionText, "completion_tokens": completionTokens.map(Int.init),
            "method": ["name": method.rawValue, "exact": exact, "projection_dimension": projectionDimension, "seed": seed, "damping": AttributionResult.damping],
            "influence": shown.map { ["doc": $0.document.hex, "contributor": $0.contributor?.hex ?? NSNull(), "score": $0.score] as [String: Any] },
            "contributors": contributors.map { ["address": $0.address.hex, "weight": $0.weight] as [String: Any] },
            "spans": spans.map { $0.json(documentIDs: documentIDs) },
        ]
    }

    /// DataInf's damping factor: `λ_l = damping · mean ‖g_l‖² / d_l`.
    public static let damping = 0.1

    /// Bits kept of every score below the largest score's magnitude (see `onGrid`).
    public static let scoreGridBits = 32
    /// Contributor weights are multiples of 2⁻⁴⁰.
    public static let weightGridBits = 40

    /// `scores` rounded to the fixed-point grid another node compares exactly: multiples of
    /// `2^(⌊log₂ max|s|⌋ + 1 − scoreGridBits)`, ties rounding to even. All zero stays zero.
    public static func onGrid(_ scores: [Double]) -> [Double] {
        let largest = scores.map(abs).max() ?? 0
        guard largest > 0, largest.isFinite else { return scores.map { _ in 0 } }
        let quantum = Double(sign: .plus, exponent: Int(largest.exponent) + 1 - scoreGridBits, significand: 1)
        return scores.map { ($0 / quantum).rounded(.toNearestOrEven) * quantum }
    }

    /// `influence` and `contributors` from raw scores in document order: scores on the grid,
    /// ties broken by document id; weights from the positive gridded scores, on their own grid.
    static func rank(_ raw: [Double], documents: [AttributionIndex.Document]) -> ([Influence], [(Digest, Double)]) {
        let scores = onGrid(raw)
        let influence = zip(documents, scores).map { Influence(document: $0.id, contributor: $0.contributor, score: $1) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.document < $1.document }
        var shares: [Digest: Double] = [:]
        for entry in influence where entry.score > 0 {
            if let contributor = entry.contributor { shares[contributor, default: 0] += entry.score }
        }
        // Summed in address order: a dictionary's order changes from process to process.
        let total = shares.sorted { $0.key < $1.key }.reduce(0.0) { $0 + $1.value }
        let unit = Double(sign: .plus, exponent: -weightGridBits, significand: 1)
        let contributors = shares.map { ($0.key, ($0.value / total / unit).rounded(.toNearestOrEven) * unit) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        return (influence, contributors)
    }
}

/// Traces answers of one adapter to its datanet, from its attribution index (projected
/// features) or, with `exact`, from every document's full gradient recomputed.
public struct Attributor {
    public let engine: GradientEngine
    public let parameters: LoRAParameters
    public let index: AttributionIndex
    public let spans: SpanIndex
    public let documents: TrainingDocuments

    public init(engine: GradientEngine, parameters: LoRAParameters, index: AttributionIndex, spans: SpanIndex, documents: TrainingDocuments) throws {
        guard index.documents.count == documents.count,
              zip(index.documents, (0..<documents.count).map { documents.document($0).id }).allSatisfy({ $0.id.hex == $1 })
        else { throw AttributionIndexError(path: documents.path, reason: "the datanet file is not the one the index was built from") }
        guard spans.digest == index.spanDigest else { throw AttributionIndexError(path: documents.path, reason: "the span index does not belong to this attribution index") }
        let blocks = GradientBlocks(parameters).blocks.map(\.count)
        guard blocks == index.blockEntries else {
            throw AttributionIndexError(path: documents.path, reason: "the index's gradient blocks do not match the adapter's (\(index.blockEntries.count) blocks, the adapter has \(blocks.count))")
        }
        self.engine = engine
        self.parameters = parameters
        self.index = index
        self.spans = spans
        self.documents = documents
    }

    /// Attributes `completion` after `prompt` (token ids; the prompt must not be empty).
    public func attribute(prompt: [Int32], completion: [Int32], method: InfluenceMethod, exact: Bool, spanRules: SpanRules) throws -> AttributionResult {
        precondition(!prompt.isEmpty && !completion.isEmpty, "attribution needs a prompt and a completion")
        let tokenizer = engine.model.tokenizer, pool = WorkerPool(threadCount: engine.threadCount)
        let query = try engine.lossAndGradient([TrainingSequence(tokens: prompt + completion, firstTarget: prompt.count)], parameters: parameters)
        let flatQuery = GradientBlocks.flatten(query.gradient, of: parameters)
        let scores: [Double]
        if exact {
            var rows: [[Float]] = []
            for start in stride(from: 0, to: documents.count, by: AttributionIndexBuilder.batchSize) {
                let range = start..<min(documents.count, start + AttributionIndexBuilder.batchSize)
                let sequences = range.map { documents.sequence($0, tokenizer: tokenizer, maxTokens: index.maxTokensPerDocument) }
                let present = sequences.compactMap { $0 }
                var gradients = present.isEmpty ? [] : try engine.sequenceGradients(present, parameters: parameters).map { GradientBlocks.flatten($0.gradient, of: parameters) }
                for sequence in sequences { rows.append(sequence == nil ? [Float](repeating: 0, count: flatQuery.count) : gradients.removeFirst()) }
            }
            var blocks: [Range<Int>] = [], start = 0
            for block in GradientBlocks(parameters).blocks { blocks.append(start..<(start + block.count)); start += block.count }
            scores = InfluenceScorer.scores(method, documents: GradientMatrix(rows: rows, blocks: blocks), query: flatQuery, pool: pool)
        } else {
            // The projection's dense matrices (tens of MB) are made only for projected scoring.
            let projection = GradientProjection(blocks: GradientBlocks(parameters), featureBudget: index.featureBudget, seed: index.seed)
            scores = InfluenceScorer.scores(method, documents: index.featureMatrix(), query: projection.project([flatQuery], pool: pool)[0], pool: pool)
        }
        let (influence, contributors) = AttributionResult.rank(scores, documents: index.documents)
        let ids = index.documents.map(\.id.hex)
        let matched = SpanMatcher(index: spans, startsWord: WordStarts.table(for: tokenizer), rules: spanRules)
            .spans(of: completion) { tokenizer.decodeText($0) }
        return AttributionResult(
            adapterID: index.adapterID, completionText: tokenizer.decodeText(completion), completionTokens: completion, method: method, exact: exact,
            projectionDimension: exact ? flatQuery.count : index.featureCount, seed: index.seed, influence: influence, contributors: contributors,
            spans: matched, documentIDs: ids)
    }
}
