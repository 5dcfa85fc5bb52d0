import Foundation

/// What happens to a scheduled request, in order: any number of `.text` pieces (whole UTF-8
/// characters), then exactly one `.finished` or `.failed`.
public enum GenerationEvent: Sendable {
    case text(String)
    case finished(Generation)
    case failed(String)
}

/// Why a request was not accepted.
public enum ScheduleError: Error, Equatable, CustomStringConvertible {
    /// The queue holds `queuedRequestsMax` requests already; try again later.
    case busy(queuedRequestsMax: Int)
    case emptyPrompt
    case promptTooLong(tokens: Int, contextLength: Int)
    case maxTokensTooLarge(asked: Int, limit: Int)
    case tokenOutOfRange(Int32)
    case stopped

    public var description: String {
        switch self {
        case .busy(let max): "the server is busy: \(max) requests are already waiting"
        case .emptyPrompt: "the prompt is empty"
        case .promptTooLong(let tokens, let context): "the prompt has \(tokens) tokens; the model's context holds \(context)"
        case .maxTokensTooLarge(let asked, let limit): "max_tokens \(asked) exceeds this server's limit of \(limit)"
        case .tokenOutOfRange(let token): "token id \(token) is outside the model's vocabulary"
        case .stopped: "the scheduler has stopped"
        }
    }
}

/// A handle on a submitted request; `cancel()` drops it from the queue or the running batch
/// (no further events are delivered after the current step).
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

    private struct Waiting {
        let request: GenerationRequest
        let key: String
        let ticket: GenerationTicket
        let onEvent: @Sendable (GenerationEvent) -> Void
        let submitted: UInt64
    }

    private struct Running {
        let waiting: Waiting
        let cache: KVCache
        var stream: GenerationStream
        var promptLogits: [Float]?
        var firstTokenSeconds: Double = 0
        /// Tokens to feed in the next step: the prompt at first, then the last sampled token.
        var input: [Int32]
    }

    /// Starts the scheduling thread for `engine`; the scheduler is the engine's only user from
    /// now on. The thread holds the scheduler until `stop()`.
    public init(engine: InferenceEngine, limits: Limits = Limits()) {
        precondition(limits.runningSequencesMax >= 1 && limits.queuedRequestsMax >= 0 && limits.prefillTokensPerStepMax >= 1)
        self.engine = engine
        self.limits = limits
        self.stopTokenIds = engine.model.stopTokenIds
        let thread = Thread { self.loop() }
        thread.name = "generation-scheduler"
        loopThread = thread
        thread.start()
    }

    /// Queues `request` (fairness key `key`, e.g. its adapter id; "" for the base model).
    /// `onEvent` is called on the scheduler's thread and must not block.
    public func submit(
        _ request: GenerationRequest, key: String = "", onEvent: @escaping @Sendable (GenerationEvent) -> Void
    ) throws(ScheduleError) -> GenerationTicket {
        let configuration = engine.configuration
        guard !request.promptTokens.isEmpty else { throw .emptyPrompt }
        guard request.promptTokens.count < configuration.contextLength else {
            throw .promptTooLong(tokens: request.promptTokens.count, contextLength: configuration.contextLength)
        }
        guard request.maxTokens <= limits.maxTokensMax else { throw .maxTokensTooLarge(asked: request.maxTokens, limit: limits.maxTokensMax) }
        if let token = request.promptTokens.first(where: { $0 < 0 || Int($0) >= configuration.vocabularySize }) { throw .tokenOutOfRange(token) }
        let ticket = GenerationTicket()
        let waiting = Waiting(request: request, key: key, ticket: ticket, onEvent: onEvent, submitted: DispatchTime.now().uptimeNanoseconds)
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

    /// Requests waiting for a slot and sequences in the running batch.
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
        while let admitted = nextAdmissions() {
            running += admitted.map { waiting in
                Running(waiting: waiting, cache: engine.makeCache(), stream: GenerationStream(request: waiting.request, sampler: Sampler(waiting.request.sampling)),
                        input: waiting.request.promptTokens)
            }
            running.removeAll { $0.waiting.ticket.isCancelled }
            guard !running.isEmpty else { continue }
            step()
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
    /// budget; blocks while there is nothing to do. Nil once stopping.
    private func nextAdmissions() -> [Waiting]? {
        condition.lock()
        defer { condition.unlock() }
        while !stopping && running.isEmpty && queuedCount == 0 { condition.wait() }
        if stopping { return nil }
        var admitted: [Waiting] = []
        var prefillTokens = 0
        var slots = limits.runningSequencesMax - running.count
        while slots > 0, !keyOrder.isEmpty {
            let key = keyOrder.removeFirst()
            let next = queues[key]!.removeFirst()
            queuedCount -= 1
            if queues[key]!.isEmpty { queues[key] = nil } else { keyOrder.append(key) }
            if next.ticket.isCancelled { continue }
            admitted.append(next)
            slots -= 1
            prefillTokens += next.request.promptTokens.count
            if prefillTokens >= limits.prefillTokensPerStepMax { break }
        }
        return admitted
    }

    /// One batched forward pass over every running sequence, then sampling and events.
    private func step() {
        let logits: [[Float]]
        do {
            logits = try engine.evaluate(running.map { ($0.cache, $0.input) })
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
        condition.withLock { runningCount = running.count }
    }
}
