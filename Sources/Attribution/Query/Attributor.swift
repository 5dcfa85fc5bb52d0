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
    /// The root of the attribution index the scores came from.
    public let indexRoot: Digest
    public let completionText: String
    public let completionTokens: [Int32]
    public let method: InfluenceMethod
    public let exact: Bool
    public let projectionDimension: Int
    public let seed: UInt64
    /// How the query's forward pass was split into passes.
    public let forward: QueryForward
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
            "method": ["name": method.rawValue, "exact": exact, "projection_dimension": projectionDimension, "seed": seed, "damping": method.damping,
                       "forward": forward.rawValue],
            "influence": shown.map { ["doc": $0.document.hex, "contributor": $0.contributor?.hex ?? NSNull(), "score": $0.score] as [String: Any] },
            "contributors": contributors.map { ["address": $0.address.hex, "weight": $0.weight] as [String: Any] },
            "spans": spans.map { $0.json(documentIDs: documentIDs) },
        ]
    }

    /// Bits kept of every score below the largest score's magnitude (see `onGrid`).
    public static let scoreGridBits = 32
    /// Contributor weights are multiples of 2⁻⁴⁰ adding up to one (`weights`).
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
        return (influence, weights(shares))
    }

    /// Each contributor's share of the positive scores as a weight on the 2⁻⁴⁰ grid, the
    /// weights adding up to exactly one (largest remainder: the units left after rounding down
    /// go one each to the largest fractional parts, lower address first among equals) — the
    /// form a chain's `attribution` transaction pays by. Highest weight first, ties by address.
    static func weights(_ shares: [Digest: Double]) -> [(Digest, Double)] {
        // Summed in address order: a dictionary's order changes from process to process.
        let ordered = shares.sorted { $0.key < $1.key }
        let total = ordered.reduce(0.0) { $0 + $1.value }
        let units = Double(UInt64(1) << weightGridBits)
        let exact = ordered.map { $0.value / total * units }
        var granted = exact.map { $0.rounded(.down) }
        let left = Int(units - granted.reduce(0, +))
        let byFraction = exact.indices.sorted { exact[$0] - granted[$0] > exact[$1] - granted[$1] || (exact[$0] - granted[$0] == exact[$1] - granted[$1] && $0 < $1) }
        for index in byFraction.prefix(left) { granted[index] += 1 }
        assert(ordered.isEmpty || granted.reduce(0, +) == units)
        return zip(ordered, granted).map { ($0.key, $1 / units) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }
}

/// Traces answers of one adapter to its datanet, from its attribution index (projected
/// features) or, with `exact`, from every document's full gradient recomputed from the
/// datanet file. Made once per adapter and reused: the projection, the feature matrix and the
/// word-start table are built here, not per answer. Used from one thread at a time, as its
/// engine is.
public final class Attributor {
    public let engine: GradientEngine
    public let parameters: LoRAParameters
    /// Runs `.generation`'s forward passes (and generates answers): the model of `engine`, on
    /// as many threads, float32 activations. Made at first use — a serving node's attributors,
    /// which use `.singlePass` only, never need it.
    private lazy var inference = InferenceEngine(model: engine.model, threads: engine.threadCount)
    /// `parameters` as `inference` applies them (`inferenceAdapter`), made at first use.
    private var madeAdapter: LoRAAdapter?
    public let index: AttributionIndex
    public let spans: SpanIndex
    /// The datanet file, needed only for `exact` scoring.
    public let documents: TrainingDocuments?
    private let projection: GradientProjection
    private let startsWord: [Bool]
    private var pool: WorkerPool { engine.pool }
    /// The index features' statistics, each computed the first time a method needs it.
    private lazy var statistics = RowStatistics(index.features, pool: pool)
    /// BM25 over the documents' words (`documentTexts`), built the first time a method `usesText`.
    private lazy var words = BM25(texts: documentTexts())

    public init(engine: GradientEngine, parameters: LoRAParameters, index: AttributionIndex, spans: SpanIndex, documents: TrainingDocuments?) throws {
        let path = documents?.path ?? "the adapter's index"
        if let documents {
            guard index.documents.count == documents.count,
                  zip(index.documents, (0..<documents.count).map { documents.document($0).id }).allSatisfy({ $0.id.hex == $1 })
            else { throw AttributionIndexError(path: documents.path, reason: "the datanet file is not the one the index was built from") }
        }
        guard spans.digest == index.spanDigest else { throw AttributionIndexError(path: path, reason: "the span index does not belong to this attribution index") }
        let blocks = GradientBlocks(parameters)
        guard blocks.blocks.map(\.count) == index.blockEntries else {
            throw AttributionIndexError(path: path, reason: "the index's gradient blocks do not match the adapter's (\(index.blockEntries.count) blocks, the adapter has \(blocks.blocks.count))")
        }
        self.engine = engine
        self.parameters = parameters
        self.index = index
        self.spans = spans
        self.documents = documents
        guard zip(index.blockFeatures, index.blockEntries).allSatisfy({ $0 >= 1 && $0 <= $1 }) else {
            throw AttributionIndexError(path: path, reason: "the index gives a block features outside 1…its entries")
        }
        projection = GradientProjection(blocks: blocks, dimensions: index.blockFeatures, seed: index.seed)
        startsWord = WordStarts.table(for: engine.model.tokenizer)
    }

    /// The query's LoRA gradient, flattened in PEFT order: the mean cross-entropy of
    /// `completion` after `prompt` (the prompt must not be empty), its forward pass split as
    /// `forward` says.
    public func queryGradient(prompt: [Int32], completion: [Int32], forward: QueryForward = .singlePass) throws -> [Float] {
        try queryLossAndGradient(prompt: prompt, completion: completion, forward: forward).gradient
    }

    /// The query's loss (that mean cross-entropy, in nats per completion token) with its
    /// gradient as `queryGradient` gives it; when not `adapted`, under the base model alone
    /// (the gradient then is that of the adapter's matrices set to zero).
    ///
    /// `forward` says how the forward pass runs: `.singlePass`, the gradient engine's own
    /// batched pass over prompt and completion; `.generation`, the inference engine's passes
    /// as generation runs them, recorded for the gradient engine's backward pass — an answer
    /// generated by `generate` was computed exactly so, and its gradient
    /// (`queryGradient(of:)`) needs no forward pass at all. Either way a verifier replays the
    /// same passes and gets the same bits.
    public func queryLossAndGradient(prompt: [Int32], completion: [Int32], adapted: Bool = true, forward: QueryForward = .singlePass) throws -> (loss: Double, gradient: [Float]) {
        precondition(!prompt.isEmpty && !completion.isEmpty, "attribution needs a prompt and a completion")
        let parameters = adapted ? self.parameters : zeroed
        let query: BatchGradient
        switch forward {
        case .singlePass:
            query = try engine.lossAndGradient([TrainingSequence(tokens: prompt + completion, firstTarget: prompt.count)], parameters: parameters)
        case .generation:
            let sequence = RecordedSequence(engine: inference, rowsMax: prompt.count + completion.count - 1)
            let adapter = adapted ? try inferenceAdapter() : nil
            _ = try inference.evaluate([(sequence.cache, prompt, adapter)])
            for token in completion.dropLast() { _ = try inference.evaluate([(sequence.cache, [token], adapter)]) }
            query = try recordedGradient(sequence, prompt: prompt, completion: completion, parameters: parameters)
        }
        return (query.loss, GradientBlocks.flatten(query.gradient, of: parameters))
    }

    /// An answer to `prompt` generated with the adapter by `inference` (one prompt pass, then
    /// one pass per token, as `TextGenerator` runs a lone request), with its recorded forward pass.
    public func generate(prompt: [Int32], maxTokens: Int, sampling: SamplingParameters = .greedy, stopStrings: [String] = []) throws -> GeneratedAnswer {
        precondition(!prompt.isEmpty && maxTokens >= 1, "generation needs a prompt and a token to generate")
        let sequence = RecordedSequence(engine: inference, rowsMax: prompt.count + maxTokens - 1)
        let request = GenerationRequest(promptTokens: prompt, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings, adapter: try inferenceAdapter())
        let generation = try TextGenerator(engine: inference).generate([request], caches: [sequence.cache])[0]
        return GeneratedAnswer(generation: generation, sequence: sequence)
    }

    /// `queryGradient(prompt:completion:forward: .generation)` of a generated answer, bit for
    /// bit, from the generation's own forward pass: only the head and the backward pass run.
    public func queryGradient(of answer: GeneratedAnswer) throws -> [Float] {
        precondition(!answer.generation.tokens.isEmpty, "attribution needs a completion")
        let query = try recordedGradient(answer.sequence, prompt: answer.generation.promptTokens, completion: answer.generation.tokens, parameters: parameters)
        return GradientBlocks.flatten(query.gradient, of: parameters)
    }

    /// The loss and gradient from `sequence`, which recorded the prompt and every completion
    /// token but the last.
    private func recordedGradient(_ sequence: RecordedSequence, prompt: [Int32], completion: [Int32], parameters: LoRAParameters) throws -> BatchGradient {
        try engine.lossAndGradient(TrainingSequence(tokens: prompt + completion, firstTarget: prompt.count), recorded: sequence, parameters: parameters)
    }

    /// `parameters` as `inference` applies them.
    private func inferenceAdapter() throws -> LoRAAdapter {
        if let madeAdapter { return madeAdapter }
        let made = try LoRAAdapter.make(name: "attribution", configuration: parameters.configuration, pairs: parameters.pairs())
        madeAdapter = made
        return made
    }

    /// The adapter's parameters set to zero: the base model's loss, through the same code.
    private var zeroed: LoRAParameters {
        var zeroed = parameters
        zeroed.values = [Float](repeating: 0, count: zeroed.values.count)
        return zeroed
    }

    /// Every document's raw score by `method` against the gradient of `completion` after
    /// `prompt`, in index order.
    public func scores(queryGradient: [Float], prompt: [Int32], completion: [Int32], method: InfluenceMethod, exact: Bool) throws -> [Double] {
        let relevance = method.usesText ? textRelevance(prompt: prompt, completion: completion) : nil
        guard exact else { return InfluenceScorer.scores(method, statistics: statistics, query: features(of: queryGradient), textRelevance: relevance) }
        return InfluenceScorer.scores(method, documents: try exactGradients(), query: queryGradient, textRelevance: relevance, pool: pool)
    }

    /// A query gradient projected as the index's documents were.
    public func features(of queryGradient: [Float]) -> [Float] { projection.project([queryGradient], pool: pool)[0] }

    /// Every document's text in index order, decoded from the span index's tokens (so the
    /// datanet file is not needed).
    public func documentTexts() -> [String] {
        (0..<spans.documentCount).map { engine.model.tokenizer.decodeText(spans.tokens(ofDocument: $0)) }
    }

    /// Every document's BM25 score for the words of `prompt` followed by `completion`, in
    /// index order: the text relevance of a method that `usesText`.
    public func textRelevance(prompt: [Int32], completion: [Int32]) -> [Double] {
        let tokenizer = engine.model.tokenizer
        return words.scores(query: tokenizer.decodeText(prompt) + tokenizer.decodeText(completion))
    }

    /// Every document's full gradient, recomputed from the datanet file in the index's
    /// batches (what `exact` scoring compares against; about 1.8 MB per document for the
    /// default rank-8 q/v adapter).
    public func exactGradients() throws -> GradientMatrix {
        guard let documents else { throw AttributionIndexError(path: "the adapter's index", reason: "exact scoring needs the datanet file") }
        let blocks = GradientBlocks(parameters)
        var rows: [[Float]] = []
        for start in stride(from: 0, to: documents.count, by: AttributionIndexBuilder.batchSize) {
            let range = start..<min(documents.count, start + AttributionIndexBuilder.batchSize)
            let batch = try AttributionIndexBuilder.gradients(range, of: documents, engine: engine, parameters: parameters, maxTokens: index.maxTokensPerDocument)
            rows += batch.map { $0.gradient ?? [Float](repeating: 0, count: blocks.count) }
        }
        return GradientMatrix(rows: rows, blocks: blocks.ranges)
    }

    /// The verbatim spans of `completion` in the datanet.
    public func spans(of completion: [Int32], rules: SpanRules) -> [MatchedSpan] {
        let tokenizer = engine.model.tokenizer
        return SpanMatcher(index: spans, startsWord: startsWord, rules: rules).spans(of: completion) { tokenizer.decodeText($0) }
    }

    /// Attributes `completion` after `prompt` (token ids; neither may be empty), the query's
    /// forward pass split as `forward` says; an `answer` `generate` produced is attributed
    /// with `.generation`'s passes, its recorded ones.
    public func attribute(
        prompt: [Int32], completion: [Int32], answer: GeneratedAnswer? = nil, forward: QueryForward = .singlePass, method: InfluenceMethod,
        exact: Bool, spanRules: SpanRules
    ) throws -> AttributionResult {
        precondition(answer.map { $0.generation.promptTokens == prompt && $0.generation.tokens == completion } ?? true, "the answer is not this completion")
        let forward = answer == nil ? forward : .generation
        let gradient = try answer.map(queryGradient(of:)) ?? queryGradient(prompt: prompt, completion: completion, forward: forward)
        let raw = try scores(queryGradient: gradient, prompt: prompt, completion: completion, method: method, exact: exact)
        let (influence, contributors) = AttributionResult.rank(raw, documents: index.documents)
        return AttributionResult(
            adapterID: index.adapterID, indexRoot: index.root, completionText: engine.model.tokenizer.decodeText(completion),
            completionTokens: completion, method: method, exact: exact, projectionDimension: exact ? gradient.count : index.featureCount,
            seed: index.seed, forward: forward, influence: influence, contributors: contributors, spans: spans(of: completion, rules: spanRules),
            documentIDs: index.documents.map(\.id.hex))
    }
}

/// An answer `Attributor.generate` produced, with the forward pass its attribution reuses.
public struct GeneratedAnswer {
    public let generation: Generation
    let sequence: RecordedSequence
}
