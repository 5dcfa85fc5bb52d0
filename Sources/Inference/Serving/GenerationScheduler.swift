import Foundation

/// What happens to a scheduled request, in order: any number of `.text` pieces (whole UTF-8
/// characters), then exactly one `.finished`, `.failed` or `.cancelled`.
public enum GenerationEvent: Sendable {
    case text(String)
    case finished(Generation)
    case failed(String)
    /// `cancel()` ended the request after `generatedTokens` tokens (0 when it never ran); the
    /// request's last event.
    case cancelled(generatedTokens: Int)
}

/// Why a request was not accepted.
public enum ScheduleError: Error, Equatable, CustomStringConvertible {
    /// The queue holds `queuedRequestsMax` requests already; try again later.
    case busy(queuedRequestsMax: Int)
    case emptyPrompt
    case promptTooLong(tokens: Int, contextLength: Int)
    case maxTokensTooLarge(asked: Int, limit: Int)
    case tokenOutOfRange(Int32)
    case unknownAdapter(String)
    case stopped

    public var description: String {
        switch self {
        case .busy(let max): "the server is busy: \(max) requests are already waiting"
        case .emptyPrompt: "the prompt is empty"
        case .promptTooLong(let tokens, let context): "the prompt has \(tokens) tokens; the model's context holds \(context)"
        case .maxTokensTooLarge(let asked, let limit): "max_tokens \(asked) exceeds this server's limit of \(limit)"
        case .tokenOutOfRange(let token): "token id \(token) is outside the model's vocabulary"
        case .unknownAdapter(let id): "no adapter \(id) is registered"
        case .stopped: "the scheduler has stopped"
        }
    }
}

/// A handle on a submitted request; `cancel()` ends it: a running request leaves the batch
/// after the current step, a waiting one when the scheduler next takes from its queue, and
/// either's last event is `.cancelled`.
public final class GenerationTicket: @unchecked Sendable {  // `cancelled` is guarded by `lock`
    private let lock = NSLock()
    private var cancelled = false

    /// Stops the request as soon as the scheduler next looks at it.
    public func cancel() { lock.withLock { cancelled = true } }

    /// Whether `cancel()` was called.
    public var isCancelled: Bool { lock.withLock { cancelled } }
}

/// Continuous batching over one `InferenceEngine`: requests join the running batch between
/// decode steps and leave it when they finish, so a new request waits for at most one step,
/// not for the whole batch. Each step is one batched forward pass holding the prompts of
/// newly admitted requests and the next token of every running one.
///
/// Fairness: waiting requests are queued per key (the adapter they use, or the base model),
/// and free slots are handed out round-robin across keys, so a burst on one adapter cannot
/// starve the others. The queue is bounded: `submit` answers `.busy` instead of growing.
///
/// Adapters: a request names an adapter of the `AdapterStore` by id. When its turn comes and
/// the adapter is not resident, the store loads it in the background while other keys take
/// the slot; the request is admitted once it is resident. Requests on resident adapters never
/// wait for a load.
public final class GenerationScheduler: @unchecked Sendable {  // mutable state is guarded by `condition`
    /// Bounds on the work the scheduler takes on.
    public struct Limits: Sendable {
        /// Sequences decoding together in one step.
        public var runningSequencesMax = 32
        /// Requests waiting for a slot; more are refused as busy.
        public var queuedRequestsMax = 256
        /// Largest `maxTokens` a request may ask for.
        public var maxTokensMax = 4096
        /// Prompt tokens admitted into one step (at least one request is always admitted), so
        /// long prompts do not stall the running streams for long.
        public var prefillTokensPerStepMax = 512

        public init() {}
    }

    /// The engine every step runs on.
    public let engine: InferenceEngine
    /// The limits this scheduler enforces.
    public let limits: Limits

    private let condition = NSCondition()
    private var queues: [String: [Waiting]] = [:]
    /// Keys with waiting requests, in round-robin order.
    private var keyOrder: [String] = []
    private var queuedCount = 0
    /// The running batch; touched by the loop thread only.
    private var running: [Running] = []
    /// `running.count` for other threads.
    private var runningCount = 0
    private var stopping = false
    private var loopThread: Thread?
    private let stopTokenIds: Set<Int32>
    /// Where adapters named by id come from.
    public let adapters: AdapterStore?
    /// Adapters being loaded for waiting requests, and loads that failed (reported to the
    /// requests that wait for them).
    private var loadingAdapters: Set<String> = []
    private var failedAdapters: [String: AdapterError] = [:]

    private struct Waiting {
        let request: GenerationRequest
        let adapterID: String?
        let key: String
        let ticket: GenerationTicket
        let onEvent: @Sendable (GenerationEvent) -> Void
        let submitted: UInt64
    }

    private struct Running {
        let waiting: Waiting
        let adapter: LoRAAdapter?
        let cache: KVCache
        var stream: GenerationStream
        var promptLogits: [Float]?
        var firstTokenSeconds: Double = 0
        /// Tokens to feed in the next step: the prompt at first, then the last sampled token.
        var input: [Int32]
    }

    /// Starts the scheduling thread for `engine`; the scheduler is the engine's only user from
    /// now on. The thread holds the scheduler until `stop()`.
    public init(engine: InferenceEngine, limits: Limits = Limits(), adapters: AdapterStore? = nil) {
        precondition(limits.runningSequencesMax >= 1 && limits.queuedRequestsMax >= 0 && limits.prefillTokensPerStepMax >= 1)
        self.engine = engine
        self.limits = limits
        self.adapters = adapters
        self.stopTokenIds = engine.model.stopTokenIds
        let thread = Thread { self.loop() }
        thread.name = "generation-scheduler"
        loopThread = thread
        thread.start()
    }

    /// Queues `request`, applying `request.adapter` or else the store's adapter `adapterID`
    /// (nil: the base model). `onEvent` is called on the scheduler's thread and must not block.
    public func submit(
        _ request: GenerationRequest, adapterID: String? = nil, onEvent: @escaping @Sendable (GenerationEvent) -> Void
    ) throws(ScheduleError) -> GenerationTicket {
        let adapterID = request.adapter?.id ?? adapterID
        if request.adapter == nil, let adapterID, adapters?.info(id: adapterID) == nil { throw .unknownAdapter(adapterID) }
        let key = adapterID ?? ""
        let configuration = engine.configuration
        guard !request.promptTokens.isEmpty else { throw .emptyPrompt }
        guard request.promptTokens.count < configuration.contextLength else {
            throw .promptTooLong(tokens: request.promptTokens.count, contextLength: configuration.contextLength)
        }
        guard request.maxTokens <= limits.maxTokensMax else { throw .maxTokensTooLarge(asked: request.maxTokens, limit: limits.maxTokensMax) }
        if let token = request.promptTokens.first(where: { $0 < 0 || Int($0) >= configuration.vocabularySize }) { throw .tokenOutOfRange(token) }
        let ticket = GenerationTicket()
        let waiting = Waiting(request: request, adapterID: adapterID, key: key, ticket: ticket, onEvent: onEvent, submitted: DispatchTime.now().uptimeNanoseconds)
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw .stopped }
        guard queuedCount < limits.queuedRequestsMax else { throw .busy(queuedRequestsMax: limits.queuedRequestsMax) }
        if queues[key, default: []].isEmpty { keyOrder.append(key) }
        queues[key, default: []].append(waiting)
        queuedCount += 1
        condition.signal()
        return ticket
    }

    /// Requests waiting for a slot and sequences in the running batch (each counted from its
    /// first step, which samples its first token).
    public var load: (queued: Int, running: Int) {
        condition.withLock { (queuedCount, runningCount) }
    }

    /// Fails every waiting and running request with "stopped" and ends the thread.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        while condition.withLock({ loopThread != nil }) { usleep(1_000) }
    }

    // MARK: The loop

    private func loop() {
        while let (admitted, failed, dropped) = nextAdmissions() {
            for (waiting, error) in failed { waiting.onEvent(.failed("adapter \(waiting.key): \(error)")) }
            for waiting in dropped { waiting.onEvent(.cancelled(generatedTokens: 0)) }
            running += admitted.map { waiting, adapter in
                Running(waiting: waiting, adapter: adapter, cache: engine.makeCache(),
                        stream: GenerationStream(request: waiting.request, sampler: Sampler(waiting.request.sampling)), input: waiting.request.promptTokens)
            }
            // Each ticket is read once: a `cancel()` landing between two reads would drop a
            // sequence without its last event.
            running.removeAll { sequence in
                guard sequence.waiting.ticket.isCancelled else { return false }
                sequence.waiting.onEvent(.cancelled(generatedTokens: sequence.stream.tokens.count))
                return true
            }
            if !running.isEmpty { step() }
            // One place counts the batch for `load`, after whatever changed it (admissions
            // count from their first step; cancellations, failures and finishes leave it).
            condition.withLock { runningCount = running.count }
        }
        let abandoned = condition.withLock {
            defer { queues = [:]; keyOrder = []; queuedCount = 0 }
            return queues.values.flatMap { $0 }
        }
        for request in abandoned.map(\.onEvent) + running.map(\.waiting.onEvent) { request(.failed(ScheduleError.stopped.description)) }
        running = []
        condition.withLock {
            runningCount = 0
            loopThread = nil
        }
    }

    /// Takes waiting requests into free slots, round-robin over keys and within the prefill
    /// budget, with their adapters; blocks while there is nothing to do. Also returns requests
    /// whose adapter failed to load, and cancelled ones taken off the queue. Nil once stopping.
    private func nextAdmissions() -> (admitted: [(Waiting, LoRAAdapter?)], failed: [(Waiting, AdapterError)], dropped: [Waiting])? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return nil }
            var admitted: [(Waiting, LoRAAdapter?)] = []
            var failed: [(Waiting, AdapterError)] = []
            var dropped: [Waiting] = []
            var toLoad: [String] = []
            var prefillTokens = 0
            var slots = limits.runningSequencesMax - running.count
            var skipped = 0  // keys passed over in a row because their adapter is not resident yet
            while slots > 0, skipped < keyOrder.count, prefillTokens < limits.prefillTokensPerStepMax {
                let key = keyOrder.removeFirst()
                let head = queues[key]![0]
                let state = adapterState(head)
                if case .notResident(let id) = state {
                    if loadingAdapters.insert(id).inserted { toLoad.append(id) }
                    keyOrder.append(key)
                    skipped += 1
                    continue
                }
                skipped = 0
                queues[key]!.removeFirst()
                queuedCount -= 1
                if queues[key]!.isEmpty { queues[key] = nil } else { keyOrder.append(key) }
                switch state {
                case .ready(let adapter) where !head.ticket.isCancelled:
                    admitted.append((head, adapter))
                    slots -= 1
                    prefillTokens += head.request.promptTokens.count
                case .failed(let error): failed.append((head, error))
                default: dropped.append(head)  // ready, but cancelled while it waited
                }
            }
            if !toLoad.isEmpty {
                // The store may call back at once; it must find the lock free.
                condition.unlock()
                for id in toLoad { startLoading(id) }
                condition.lock()
            }
            if !admitted.isEmpty || !failed.isEmpty || !dropped.isEmpty || !running.isEmpty { return (admitted, failed, dropped) }
            if toLoad.isEmpty { condition.wait() }
        }
    }

    private enum AdapterState {
        case ready(LoRAAdapter?)
        case notResident(String)
        case failed(AdapterError)
    }

    /// Whether the adapter `waiting` needs is ready. Called with `condition` held.
    private func adapterState(_ waiting: Waiting) -> AdapterState {
        if let adapter = waiting.request.adapter { return .ready(adapter) }
        guard let id = waiting.adapterID else { return .ready(nil) }
        guard let adapters else { return .failed(.unknownAdapter(id)) }
        if let adapter = adapters.resident(id) { return .ready(adapter) }
        if let error = failedAdapters.removeValue(forKey: id) { return .failed(error) }
        return .notResident(id)
    }

    /// Loads adapter `id` in the background; the loop looks again when it is resident or failed.
    private func startLoading(_ id: String) {
        adapters!.prefetch(id) { [self] result in
            condition.withLock {
                loadingAdapters.remove(id)
                if case .failure(let error) = result { failedAdapters[id] = error }
                condition.signal()
            }
        }
    }

    /// One batched forward pass over every running sequence, then sampling and events.
    private func step() {
        let logits: [[Float]]
        do {
            logits = try engine.evaluate(running.map { ($0.cache, $0.input, $0.adapter) })
        } catch {
            for sequence in running { sequence.waiting.onEvent(.failed("inference failed: \(error)")) }
            running = []
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let tokenizer = engine.model.tokenizer
        var kept: [Running] = []
        for (index, var sequence) in running.enumerated() {
            let request = sequence.waiting.request
            if sequence.promptLogits == nil { sequence.promptLogits = logits[index] }
            var finish: Generation.FinishReason? = request.maxTokens == 0 ? .length : nil
            if finish == nil {
                let token = sequence.stream.sampler.sample(logits[index])
                if sequence.stream.tokens.isEmpty { sequence.firstTokenSeconds = Double(now - sequence.waiting.submitted) / 1e9 }
                finish = sequence.stream.accept(token, stopTokenIds: stopTokenIds, tokenizer: tokenizer,
                                                contextLeft: engine.configuration.contextLength - sequence.cache.length)
                sequence.input = [token]
            } else {
                sequence.firstTokenSeconds = Double(now - sequence.waiting.submitted) / 1e9
            }
            if let text = sequence.stream.newText(final: finish != nil) { sequence.waiting.onEvent(.text(text)) }
            if let finish {
                sequence.waiting.onEvent(.finished(Generation(
                    promptTokens: request.promptTokens, tokens: sequence.stream.tokens,
                    text: String(decoding: sequence.stream.visibleBytes, as: UTF8.self), finishReason: finish,
                    promptLogits: sequence.promptLogits ?? [], firstTokenSeconds: sequence.firstTokenSeconds)))
            } else {
                kept.append(sequence)
            }
        }
        running = kept
    }
}
