import Crypto
import Foundation
import Inference

/// Builds an adapter's `AttributionIndex` and span index from its datanet file: every
/// document's own gradient (`GradientEngine.sequenceGradients`, `batchSize` documents per
/// pass) projected to features, and every document's tokens in a `SpanIndex`.
///
/// The features are split between blocks by energy (`GradientProjection.allocation`): the
/// mean squared norm of each block's gradient over the first `allocationSampleMax`
/// documents, taken in the same batches as the index's pass, so a rebuild allocates alike.
/// Those documents' gradients are computed again in the pass (four batches of extra work):
/// keeping them would cost up to 20 MB per document for an all-linear rank-16 adapter.
public struct AttributionIndexBuilder {
    public let engine: GradientEngine
    public let parameters: LoRAParameters
    public let adapterID: Digest
    public let seed: UInt64
    public let featureBudget: Int
    public let maxTokensPerDocument: Int
    /// Documents per gradient pass. A document's gradient is computed beside the others of its
    /// batch, and the kernels a pass takes depend on its rows, so the last bits of features
    /// depend on it: `Attributor` uses the same batches for `--exact`.
    public static let batchSize = 8
    /// Documents whose gradients decide how the feature budget is split between blocks.
    public static let allocationSampleMax = 32

    public init(engine: GradientEngine, parameters: LoRAParameters, adapterID: Digest, seed: UInt64,
                featureBudget: Int = GradientProjection.featureBudgetDefault, maxTokensPerDocument: Int) {
        precondition(featureBudget >= GradientBlocks(parameters).blocks.count, "the budget must give every block a feature")
        self.engine = engine
        self.parameters = parameters
        self.adapterID = adapterID
        self.seed = seed
        self.featureBudget = featureBudget
        self.maxTokensPerDocument = maxTokensPerDocument
    }

    /// The index of `documents` and its span index; `progress` hears documents done.
    public func build(_ documents: TrainingDocuments, progress: (Int) -> Void = { _ in }) throws -> (AttributionIndex, SpanIndex) {
        let tokenizer = engine.model.tokenizer
        let projection = try self.projection(for: documents)
        var indexed: [AttributionIndex.Document] = [], rows: [FeatureMatrix.QuantizedRow] = [], spanDocuments: [[Int32]] = []
        rows.reserveCapacity(documents.count)
        for start in stride(from: 0, to: documents.count, by: Self.batchSize) {
            let range = start..<min(documents.count, start + Self.batchSize)
            // Each document is parsed and tokenized once, for its gradient and its spans.
            let batchDocuments = range.map(documents.document)
            let tokenized = batchDocuments.map { $0.tokenized(tokenizer) }
            let batch = try Self.gradients(tokenized.map { TrainingSequence($0, maxTokens: maxTokensPerDocument) }, engine: engine, parameters: parameters)
            var projected = projection.project(batch.compactMap(\.gradient), pool: engine.pool)[...]
            for (document, (tokens, entry)) in zip(batchDocuments, zip(tokenized, batch)) {
                indexed.append(AttributionIndex.Document(
                    id: Digest(hex: document.id)!, contributor: document.contributor.flatMap(Digest.init(hex:)), targetCount: entry.targetCount))
                rows.append(FeatureMatrix.quantize(entry.gradient == nil ? [Float](repeating: 0, count: projection.featureCount) : projected.removeFirst()))
                spanDocuments.append(tokens.tokens)
            }
            assert(projected.isEmpty, "every projected gradient belongs to a document")
            progress(range.upperBound)
        }
        let spans = try SpanIndex(documents: spanDocuments)
        let index = AttributionIndex(
            adapterID: adapterID, seed: seed, featureBudget: featureBudget, maxTokensPerDocument: maxTokensPerDocument,
            blockEntries: projection.blocks.blocks.map(\.count), blockFeatures: projection.dimensions, documents: indexed,
            features: FeatureMatrix(rows: rows, width: projection.featureCount, blocks: GradientBlocks.ranges(projection.dimensions)),
            spanDigest: spans.digest)
        return (index, spans)
    }

    /// The projection whose blocks' features follow their energy in the first documents.
    func projection(for documents: TrainingDocuments) throws -> GradientProjection {
        let blocks = GradientBlocks(parameters), ranges = blocks.ranges
        var energies = [Double](repeating: 0, count: blocks.blocks.count), sampled = 0
        for start in stride(from: 0, to: min(documents.count, Self.allocationSampleMax), by: Self.batchSize) {
            let range = start..<min(documents.count, start + Self.batchSize)
            for gradient in try Self.gradients(range, of: documents, engine: engine, parameters: parameters, maxTokens: maxTokensPerDocument)
                .compactMap(\.gradient) {
                gradient.withUnsafeBufferPointer { values in
                    for (l, range) in ranges.enumerated() {
                        energies[l] += GradientMatrix.dot(values.baseAddress! + range.lowerBound, values.baseAddress! + range.lowerBound, range.count)
                    }
                }
                sampled += 1
            }
        }
        let dimensions = GradientProjection.allocation(
            budget: featureBudget, entries: blocks.blocks.map(\.count), energies: energies.map { sampled > 0 ? $0 / Double(sampled) : 0 })
        return GradientProjection(blocks: blocks, dimensions: dimensions, seed: seed)
    }

    /// The full gradients (flattened, PEFT order) of documents `range` from one pass, with the
    /// tokens each loss is over; nil for a document too short to have a target.
    static func gradients(
        _ range: Range<Int>, of documents: TrainingDocuments, engine: GradientEngine, parameters: LoRAParameters, maxTokens: Int
    ) throws -> [(targetCount: Int, gradient: [Float]?)] {
        try gradients(range.map { documents.sequence($0, tokenizer: engine.model.tokenizer, maxTokens: maxTokens) }, engine: engine, parameters: parameters)
    }

    /// The full gradients of `sequences` (nil: a document with nothing to predict) from one pass.
    static func gradients(_ sequences: [TrainingSequence?], engine: GradientEngine, parameters: LoRAParameters) throws -> [(targetCount: Int, gradient: [Float]?)] {
        let present = sequences.compactMap { $0 }
        var gradients = present.isEmpty ? [] : try engine.sequenceGradients(present, parameters: parameters)[...]
        return sequences.map { sequence in
            guard let sequence else { return (0, nil) }
            return (sequence.targetCount, GradientBlocks.flatten(gradients.removeFirst().gradient, of: parameters))
        }
    }
}
