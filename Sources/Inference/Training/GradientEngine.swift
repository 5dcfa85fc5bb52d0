import COpenBLAS
import Foundation

/// Computes the loss of a batch of token sequences under a base model with trainable LoRA
/// factors, and the loss's gradient with respect to those factors, on the CPU in float32.
///
/// The forward pass mirrors the inference engine's (the same `Layers` operations), with
/// the base matrices kept in their stored encoding and decoded tile by tile into `sgemm`;
/// it saves per block what the backward pass needs (the block input, the normalisation
/// factors, rotated queries and keys, values, the attention output, the residual between
/// the sublayers, the gate and up projections, and each LoRA module's `x·Aᵀ`) and
/// recomputes the rest (normalised inputs, the SwiGLU product, attention probabilities).
/// The backward pass then runs the blocks in reverse: only the inputs' gradients flow
/// through the frozen base matrices (`MatrixMultiply.runTransposed`), and each LoRA
/// module's `A` and `B` get theirs from one product over the batch's rows.
///
/// A query's gradient can skip the forward pass: `lossAndGradient(_:recorded:parameters:)`
/// takes the activations an inference engine recorded (`RecordedSequence`) instead.
///
/// Memory grows with the batch's rows (about 23 KB per row per block for the default
/// model), not with the data; the logits are formed `logitChunkRows` at a time. Every sum
/// is taken in an order fixed by the batch and the thread count, so equal inputs give
/// bit-identical gradients. Used from one thread at a time.
public final class GradientEngine {
    public let model: LlamaModel
    public var configuration: LlamaConfiguration { model.configuration }
    /// The engine's threads; callers may run their own work on them between engine calls.
    public let pool: WorkerPool
    let scratch: ScratchSpace
    let attentionScratch: AttentionScores
    private var arena: UnsafeMutablePointer<Float>
    private var arenaFloats = 0

    /// Rows whose logits exist at one time (`logitChunkRows × vocabulary` floats).
    static let logitChunkRows = 128
    /// Longest sequence a batch may hold (attention keeps `2 · length²` floats per thread).
    public static let sequenceTokensMax = 2048

    public init(model: LlamaModel, threads: Int) {
        precondition(threads >= 1, "an engine needs at least one thread")
        openblas_set_num_threads(1)
        self.model = model
        self.pool = WorkerPool(threadCount: threads)
        let c = model.configuration
        self.scratch = ScratchSpace(members: threads, floatsPerMember: max(InferenceEngine.tileFloatsPerThread, 16 * max(c.hiddenSize, c.intermediateSize)),
            activationFloats: 3 * max(c.hiddenSize, c.intermediateSize) * MatrixMultiply.broadcastKernelBatchMax)
        self.attentionScratch = AttentionScores(members: threads)
        self.arena = .allocate(capacity: 0)
    }

    deinit { arena.deallocate() }

    /// Threads the engine computes with.
    public var threadCount: Int { pool.threadCount }

    /// Most tokens one sequence of a batch may hold: the model's context, up to `sequenceTokensMax`.
    public var sequenceTokensLimit: Int { min(configuration.contextLength, Self.sequenceTokensMax) }

    /// The mean cross-entropy of `batch`'s targets and its gradient with respect to
    /// `parameters.values`.
    public func lossAndGradient(_ batch: [TrainingSequence], parameters: LoRAParameters) throws(TrainingError) -> BatchGradient {
        try gradients(batch, parameters: parameters, perSequence: false)[0]
    }

    /// For every sequence of `batch`, its own mean loss and gradient — what
    /// `lossAndGradient([sequence])` gives, up to float32 rounding (the kernels a pass takes
    /// depend on its rows) — from one batched pass: the sequences' rows share every product
    /// but the LoRA gradients' sums, taken over each sequence's rows alone.
    /// A sequence with nothing to predict gets loss 0 and a zero gradient.
    public func sequenceGradients(_ batch: [TrainingSequence], parameters: LoRAParameters) throws(TrainingError) -> [BatchGradient] {
        try gradients(batch, parameters: parameters, perSequence: true)
    }

    /// The mean loss of `sequence`'s targets and its gradient, from the activations an
    /// inference engine recorded while evaluating the sequence's tokens into `recorded`
    /// (every token but the last, at positions `0..<tokens.count − 1`): only the output head
    /// and the backward pass run here. Equal records give bit-identical gradients.
    public func lossAndGradient(_ sequence: TrainingSequence, recorded: RecordedSequence, parameters: LoRAParameters) throws(TrainingError) -> BatchGradient {
        let rows = TrainingPass.rowsNeeded(sequence)
        guard rows <= recorded.rowsMax, recorded.recordedTokens(rows) == Array(sequence.tokens.prefix(rows)) else {
            throw .recordMismatch(rows: rows)
        }
        return try gradients([sequence], parameters: parameters, perSequence: false, recorded: recorded.record)[0]
    }

    private func gradients(_ batch: [TrainingSequence], parameters: LoRAParameters, perSequence: Bool, recorded: ForwardRecord? = nil) throws(TrainingError) -> [BatchGradient] {
        let c = configuration
        guard !batch.isEmpty else { throw .emptyBatch }
        guard parameters.configuration == c else { throw .configurationMismatch }
        let limit = sequenceTokensLimit
        for sequence in batch {
            guard !sequence.tokens.isEmpty else { throw .emptySequence }
            guard sequence.tokens.count <= limit else { throw .sequenceTooLong(length: sequence.tokens.count, limit: limit) }
            for token in sequence.tokens where token < 0 || Int(token) >= c.vocabularySize {
                throw .tokenOutOfRange(token, vocabularySize: c.vocabularySize)
            }
        }
        guard batch.contains(where: { $0.targetCount > 0 }) else { throw .noTargets }

        let pass = TrainingPass(
            engine: self, batch: batch, parameters: parameters, perSequence: perSequence, recorded: recorded,
            arena: reserveArena(TrainingPass.floatsNeeded(batch, parameters, recorded: recorded != nil)))
        let count = parameters.values.count
        var gradients = [Float](repeating: 0, count: pass.groups.count * count)
        let losses = parameters.values.withUnsafeBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { gradients in pass.run(values: values.baseAddress!, gradients: gradients.baseAddress!) }
        }
        return pass.groups.indices.map { index in
            BatchGradient(loss: losses[index], targetCount: pass.groups[index].targetCount, gradient: Array(gradients[(index * count)..<((index + 1) * count)]))
        }
    }

    /// At least `floats` floats of working memory, kept from batch to batch.
    private func reserveArena(_ floats: Int) -> UnsafeMutablePointer<Float> {
        if floats > arenaFloats {
            arena.deallocate()
            arena = .allocate(capacity: floats)
            arenaFloats = floats
        }
        return arena
    }

    /// Runs `body` on row chunks of `0..<count` spread over the pool.
    func forEachRowChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
        let chunk = max(16, (count + 4 * pool.threadCount - 1) / (4 * pool.threadCount))
        pool.forEachChunk(count, chunk: chunk) { _, range in body(range) }
    }
}
