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
    let adapterWork = AdapterWork()
    /// How activations meet quantized weights in the matrix products.
    public let activations: ActivationPrecision
    /// With int8 activations, the model's matrices decoded once for the batched kernels.
    let int8Tiles: Int8Tiles?
    /// Whether base products fetch adapter factors ahead, chosen by timing passes.
    public internal(set) var prefetchTuner = PrefetchTuner()
    /// Whether the pass in progress fetches adapter factors ahead.
    var prefetchesFactors = false

    /// Most token rows in one forward pass; longer inputs are split into passes.
    public static let batchRowsMax = 512
    /// Floats in each thread's buffer for decoded weight tiles (4 MiB).
    static let tileFloatsPerThread = 1 << 20

    /// An engine for `model` running its matrix work on `threads` threads (the caller's
    /// included), with `activations` precision in the matrix products.
    public init(model: LlamaModel, threads: Int, activations: ActivationPrecision = .float32) {
        precondition(threads >= 1, "an engine needs at least one thread")
        // The engine parallelises around OpenBLAS, so each call must stay on its caller's thread.
        openblas_set_num_threads(1)
        self.model = model
        self.activations = activations
        self.int8Tiles = activations == .int8 ? Int8Tiles(model.weights.matrices) : nil
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

    /// A new, empty sequence for this engine's model: keys and values in float32, or in
    /// half precision with int8 activations (an approximate mode already, and attention then
    /// reads half the memory, as llama.cpp's default cache does). The engine runs caches of
    /// either precision.
    public func makeCache() -> KVCache {
        KVCache(configuration: configuration, precision: activations == .int8 ? .float16 : .float32)
    }

    /// Appends `tokens` to each request's sequence and returns, per request, the logits
    /// (`vocabularySize` floats) that follow its last token. Checks every request before
    /// touching any cache.
    public func evaluate(_ requests: [(cache: KVCache, tokens: [Int32])]) throws(InferenceError) -> [[Float]] {
        try evaluate(requests.map { ($0.cache, $0.tokens, nil) })
    }

    /// `evaluate` where each request may use its own LoRA adapter (or none): one batched
    /// forward pass serves them all, each row getting only its own adapter's delta. Requests
    /// are grouped by adapter inside the pass; the logits come back in request order.
    public func evaluate(_ requests: [(cache: KVCache, tokens: [Int32], adapter: LoRAAdapter?)]) throws(InferenceError) -> [[Float]] {
        var seen = Set<ObjectIdentifier>()
        for request in requests {
            guard !request.tokens.isEmpty else { throw .emptyRequest }
            if let adapter = request.adapter, adapter.configuration != configuration { throw .adapterMismatch(adapter.name) }
            guard seen.insert(ObjectIdentifier(request.cache)).inserted else { throw .repeatedSequence }
            for token in request.tokens where token < 0 || Int(token) >= configuration.vocabularySize {
                throw .tokenOutOfRange(token, vocabularySize: configuration.vocabularySize)
            }
            let length = request.cache.length + request.tokens.count
            guard length <= configuration.contextLength else { throw .contextFull(length: length, limit: configuration.contextLength) }
        }
        var logits = [[Float]](repeating: [], count: requests.count)
        // Rows still to run, as (request, token index); each pass takes up to batchRowsMax.
        // Requests sharing an adapter go next to each other (in order of first appearance),
        // so that each adapter's rows form one segment of the pass.
        var firstUse: [ObjectIdentifier: Int] = [:]
        var groups: [Int] = []
        for (index, request) in requests.enumerated() {
            guard let adapter = request.adapter else { groups.append(-1); continue }
            groups.append(firstUse[ObjectIdentifier(adapter), default: index])
            firstUse[ObjectIdentifier(adapter)] = groups[index]
        }
        let order = requests.indices.sorted { (groups[$0], $0) < (groups[$1], $1) }
        var pending: [(request: Int, index: Int)] = []
        for request in order {
            for index in requests[request].tokens.indices { pending.append((request, index)) }
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
                rows.append(ForwardRow(cache: request.cache, token: request.tokens[item.index], position: request.cache.length + offset, adapter: request.adapter))
                if item.index == request.tokens.count - 1 { wanted.append((row, item.request)) }
            }
            let passLogits = forward(rows, logitRows: wanted.map(\.row))
            for (index, item) in wanted.enumerated() { logits[item.request] = passLogits[index] }
            start += pass.count
        }
        return logits
    }
}

/// One token of a forward pass: it is written to `cache` at `position`, and its
/// projections add `adapter`'s deltas when it has one.
struct ForwardRow {
    let cache: KVCache
    let token: Int32
    let position: Int
    let adapter: LoRAAdapter?
}
