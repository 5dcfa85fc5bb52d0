import Attribution
import Crypto
import Foundation
import Inference

/// Attribution of served answers: after an answer is generated, its query gradient, scores,
/// spans and signed proof are computed here, on one thread of its own at the lowest CPU
/// priority (SCHED_IDLE, nice 19), never on the decode loop. At most `queueMax` answers wait; when the
/// queue is full an answer goes out without attribution, with the reason, rather than waiting
/// or slowing generation. Proofs are kept in `proofs` for `GET /v1/attributions/{id}`.
final class AttributionService: @unchecked Sendable {  // `queue` and `stopped` are guarded by `condition`; `attributors` is the thread's own
    /// One answer to attribute.
    struct Job {
        let adapter: AdapterInfo
        let promptTokens: [Int32]
        let completionTokens: [Int32]
        let requestHash: Digest
        let method: InfluenceMethod
        let top: Int
    }

    enum Outcome {
        case attributed(AttributionResult, AttributionProof)
        /// Not attributed, and why.
        case skipped(String)
    }

    let queueMax: Int
    let proofs: AttributionProofStore
    let baseModel: Digest
    private let engine: GradientEngine
    private let key: SigningKey
    private let chainID: String
    private let condition = NSCondition()
    private var queue: [(Job, @Sendable (Outcome) -> Void)] = []
    private var stopped = false
    /// Attributors of the most recently used adapters (each holds its index's features,
    /// projection and scoring statistics).
    private var attributors = RecentlyUsed<Attributor>(capacity: attributorsMax)
    static let attributorsMax = 4
    /// Linux's SCHED_IDLE policy (`<linux/sched.h>`), which Glibc's Swift overlay does not export.
    static let schedIdle: Int32 = 5

    init(model: LlamaModel, queueMax: Int, key: SigningKey, chainID: String, proofs: AttributionProofStore) throws {
        precondition(queueMax >= 0, "a queue holds zero or more answers")
        self.queueMax = queueMax
        self.proofs = proofs
        self.key = key
        self.chainID = chainID
        baseModel = try AttributionProof.baseModelHash(path: model.path)
        engine = GradientEngine(model: model, threads: 1)
        // The thread holds the service until `stop` ends it, so a service dropped right after
        // `stop` is never read by a thread still waking up.
        let thread = Thread { self.run() }
        thread.name = "attribution"
        thread.start()
    }

    /// Most prompt and completion tokens an answer may hold to be attributed.
    var tokensMax: Int { engine.sequenceTokensLimit }

    /// Whether `adapter` has an attribution index beside it.
    static func hasIndex(_ adapter: AdapterInfo) -> Bool {
        FileManager.default.fileExists(atPath: indexDirectory(adapter) + "/" + AttributionIndex.fileName)
    }

    static func indexDirectory(_ adapter: AdapterInfo) -> String { (adapter.path as NSString).appendingPathComponent("attribution") }

    /// Queues `job`; `done` hears its outcome on the attribution thread. Returns the reason
    /// when the job is refused (queue full or stopped); `done` is then never called.
    func submit(_ job: Job, done: @escaping @Sendable (Outcome) -> Void) -> String? {
        condition.withLock {
            if stopped { return "attribution is stopping" }
            if queueMax == 0 { return "attribution is off on this node (attribution_queue_max = 0)" }
            guard queue.count < queueMax else { return "the attribution queue is full (\(queueMax) answers waiting)" }
            queue.append((job, done))
            condition.signal()
            return nil
        }
    }

    /// Answers what is queued as skipped and ends the thread.
    func stop() {
        let dropped = condition.withLock {
            stopped = true
            condition.broadcast()
            defer { queue.removeAll() }
            return queue
        }
        for (_, done) in dropped { done(.skipped("attribution is stopping")) }
    }

    private func run() {
        // Linux schedules threads one by one. SCHED_IDLE runs this thread only on a core no
        // other thread wants, and a waking decode thread takes the core back at once (under
        // nice 19 alone it could wait out this thread's time slice: generation measured 0.79×
        // with attribution on). Nice 19 stays as the fallback should the policy be refused.
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
        var parameters = sched_param(sched_priority: 0)
        _ = pthread_setschedparam(pthread_self(), Self.schedIdle, &parameters)
        while true {
            let next: (Job, @Sendable (Outcome) -> Void)? = condition.withLock {
                while queue.isEmpty && !stopped { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let (job, done) = next else { return }
            done(attribute(job))
        }
    }

    private func attribute(_ job: Job) -> Outcome {
        guard !job.completionTokens.isEmpty else { return .skipped("the completion is empty") }
        do {
            let attributor = try attributor(for: job.adapter)
            let result = try attributor.attribute(prompt: job.promptTokens, completion: job.completionTokens, method: job.method, exact: false, spanRules: SpanRules())
            let proof = try AttributionProof(signing: result, top: job.top, requestHash: job.requestHash, baseModel: baseModel, promptTokens: job.promptTokens,
                                         spanMinTokens: SpanRules.defaultMinTokens, key: key, chainID: chainID)
            try proofs.write(proof)
            return .attributed(result, proof)
        } catch {
            return .skipped("attribution failed: \(error)")
        }
    }

    /// The adapter's attributor, loaded from its index unless it is among the most recently used.
    private func attributor(for adapter: AdapterInfo) throws -> Attributor {
        try attributors.value(for: adapter.id) { try loadAttributor(adapter) }
    }

    private func loadAttributor(_ adapter: AdapterInfo) throws -> Attributor {
        let directory = Self.indexDirectory(adapter)
        let index = try AttributionIndex(directory: directory)
        guard index.adapterID.hex == adapter.id else { throw CommandError("the index in \(directory) was built for adapter \(index.adapterID.hex)") }
        let spans = try SpanIndex(contentsOf: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName))
        let loaded = try LoRAAdapter.load(path: adapter.path, for: engine.configuration)
        let parameters = try LoRAParameters(pairs: loaded.pairs(), configuration: engine.configuration)
        return try Attributor(engine: engine, parameters: parameters, index: index, spans: spans, documents: nil)
    }
}
