import COpenBLAS

/// Runs a `LlamaModel` on the CPU: one worker pool, reusable activation buffers, and any
/// number of sequences, each with its own `KVCache` at its own position.
///
/// `evaluate` appends tokens to several sequences at once: a prompt of many tokens
/// (prefill) and single next tokens of many streams (batched decode) travel through the
/// same batched forward pass. An engine is used from one thread at a time.
public final class InferenceEngine {
    /// The model this engine runs.
    public let model: LlamaModel
    /// The model's shape.
    public var configuration: LlamaConfiguration { model.configuration }
    let pool: WorkerPool
    let scratch: ScratchSpace
    var buffers = ForwardBuffers()
    let attentionScores: AttentionScores

    /// Most token rows in one forward pass; longer inputs are split into passes.
    public static let batchRowsMax = 512
    /// Floats in each thread's buffer for decoded weight tiles (4 MiB).
    static let tileFloatsPerThread = 1 << 20

    /// An engine for `model` running its matrix work on `threads` threads (the caller's included).
    public init(model: LlamaModel, threads: Int) {
        precondition(threads >= 1, "an engine needs at least one thread")
        // The engine parallelises around OpenBLAS, so each call must stay on its caller's thread.
        openblas_set_num_threads(1)
        self.model = model
        self.pool = WorkerPool(threadCount: threads)
        self.attentionScores = AttentionScores(members: threads)
        let widest = max(model.configuration.hiddenSize, model.configuration.intermediateSize)
        // Transposed activations: at most three products per call, 32 lanes each.
        self.scratch = ScratchSpace(members: threads, floatsPerMember: max(Self.tileFloatsPerThread, 16 * widest),
                                    activationFloats: 3 * widest * MatrixMultiply.broadcastKernelBatchMax)
    }

    deinit { buffers.release() }

    /// Threads the engine computes with.
    public var threadCount: Int { pool.threadCount }

    /// A new, empty sequence for this engine's model.
    public func makeCache() -> KVCache { KVCache(configuration: configuration) }

    /// Appends `tokens` to each request's sequence and returns, per request, the logits
    /// (`vocabularySize` floats) that follow its last token. Checks every request before
    /// touching any cache.
    public func evaluate(_ requests: [(cache: KVCache, tokens: [Int32])]) throws(InferenceError) -> [[Float]] {
        var seen = Set<ObjectIdentifier>()
        for request in requests {
            guard !request.tokens.isEmpty else { throw .emptyRequest }
            guard seen.insert(ObjectIdentifier(request.cache)).inserted else { throw .repeatedSequence }
            for token in request.tokens where token < 0 || Int(token) >= configuration.vocabularySize {
                throw .tokenOutOfRange(token, vocabularySize: configuration.vocabularySize)
            }
            let length = request.cache.length + request.tokens.count
            guard length <= configuration.contextLength else { throw .contextFull(length: length, limit: configuration.contextLength) }
        }
        var logits = [[Float]](repeating: [], count: requests.count)
        // Rows still to run, as (request, token index); each pass takes up to batchRowsMax.
        var pending: [(request: Int, index: Int)] = []
        for (request, entry) in requests.enumerated() {
            for index in entry.tokens.indices { pending.append((request, index)) }
        }
        var start = 0
        while start < pending.count {
            let pass = pending[start..<min(pending.count, start + Self.batchRowsMax)]
            var rows: [ForwardRow] = []
            var wanted: [(row: Int, request: Int)] = []
            var added: [ObjectIdentifier: Int] = [:]
            for (row, item) in pass.enumerated() {
                let request = requests[item.request]
                let offset = added[ObjectIdentifier(request.cache), default: 0]
                added[ObjectIdentifier(request.cache)] = offset + 1
                rows.append(ForwardRow(cache: request.cache, token: request.tokens[item.index], position: request.cache.length + offset))
                if item.index == request.tokens.count - 1 { wanted.append((row, item.request)) }
            }
            let passLogits = forward(rows, logitRows: wanted.map(\.row))
            for (index, item) in wanted.enumerated() { logits[item.request] = passLogits[index] }
            start += pass.count
        }
        return logits
    }
}

/// One token of a forward pass: it is written to `cache` at `position`.
struct ForwardRow {
    let cache: KVCache
    let token: Int32
    let position: Int
}
