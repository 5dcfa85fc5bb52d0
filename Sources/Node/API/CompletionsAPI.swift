import Attribution
import Crypto
import Foundation
import Inference
import Payments

/// The OpenAI-style inference API:
///
/// | route | answer |
/// | --- | --- |
/// | `GET /v1/models` | the base model and hosted adapters |
/// | `POST /v1/completions` | `{model, prompt, max_tokens, temperature, top_p, top_k, seed, stop, stream}` |
/// | `POST /v1/chat/completions` | the same with `messages` instead of `prompt`, through the model's chat template |
/// | `GET /v1/attributions/{id}` | the signed attribution proof `id` (`AttributionProof` JSON) |
///
/// With `"attribution": true` (or `{"method", "top"}`) on an adapter that has an attribution
/// index, the answer carries `attribution`: `tributary attribute --json`'s object with
/// `"status": "attributed"` and `proof_id`, or `{"status": "skipped", "reason"}` when the
/// attribution queue is full. A stream sends it as one more chunk before `[DONE]`.
///
/// With a price (`PricedServingPolicy`), a request without `PAYMENT-SIGNATURE` gets 402 and
/// the offers; a paid one is verified, served, settled, and answered with `PAYMENT-RESPONSE`
/// (a stream carries the receipt as a last chunk `{"choices": [], "payment_response": {...}}`
/// before `[DONE]`, since its headers left before the settlement).
///
/// With `stream: true` the answer is server-sent events, one `data: {chunk}` per piece of text,
/// the last chunk carrying `finish_reason` and `usage`, then `data: [DONE]`. Errors use
/// OpenAI's shape `{"error": {"message", "type", "code"}}`; a full queue is 429 `busy`.
struct CompletionsAPI: Sendable {
    let service: ModelService
    let policy: any ServingPolicy
    /// How often a whole-body answer in the making looks whether its client left.
    static let clientCheckIntervalMs = 100

    /// Registers the routes; the completions run through `budget` (`ConnectionBudget`). The
    /// payment pipeline is `policy`: admission once the request is parsed, before its prompt is
    /// tokenized (unless priced) or scheduled, and settlement (`PaidRequest`) once generated.
    func register(in router: inout HTTPRouter, budget: ConnectionBudget) {
        router.add("GET", "/v1/models") { _, _ in models() }
        router.add("POST", "/v1/completions", through: [budget]) { request, _ in complete(request, chat: false) }
        router.add("POST", "/v1/chat/completions", through: [budget]) { request, _ in complete(request, chat: true) }
        router.add("GET", "/v1/attributions/{id}") { _, id in proof(id[0]) }
    }

    private func models() -> HTTPResponse {
        // `activations` (an extension of OpenAI's format): "int8" tells clients the logits are approximate.
        let base: [String: Any] = [
            "id": service.name, "object": "model", "created": 0, "owned_by": "tributary",
            "activations": service.scheduler.engine.activations.rawValue,
        ]
        let adapters = service.adapters.adapters.map { info -> [String: Any] in
            ["id": info.id, "object": "model", "created": 0, "owned_by": "tributary", "name": info.name, "parent": service.name]
        }
        return .json(["object": "list", "data": [base] + adapters])
    }

    private func complete(_ request: HTTPRequest, chat: Bool) -> HTTPResponse {
        let parameters: CompletionParameters
        do {
            parameters = try CompletionParameters(body: request.body, chat: chat, model: service.model)
        } catch {
            return Self.error(400, "invalid_request", error.message)
        }
        let adapter: AdapterInfo?
        switch service.resolve(parameters.model) {
        case .base: adapter = nil
        case .adapter(let info): adapter = info
        case .unknown: return Self.error(404, "model_not_found", "no model or adapter '\(parameters.model)' here; GET /v1/models lists them")
        }
        if parameters.attribution != nil {
            guard let adapter else { return Self.error(400, "invalid_request", "attribution needs an adapter model: the base model has no training documents") }
            guard AttributionService.hasIndex(adapter) else {
                return Self.error(400, "invalid_request", "adapter '\(adapter.name)' has no attribution index; build one with 'tributary attribute index --adapter \(adapter.path) --datanet <its datanet file>'")
            }
        }
        // Refused before a price is quoted for it (the scheduler checks again).
        let maxTokensMax = service.scheduler.limits.maxTokensMax
        guard parameters.maxTokens <= maxTokensMax else {
            return Self.error(400, "invalid_request", ScheduleError.maxTokensTooLarge(asked: parameters.maxTokens, limit: maxTokensMax).description)
        }
        // The prompt is tokenized before admission only when its length is priced or must fit
        // what attribution covers.
        var promptTokens: [Int32]?
        do {
            if policy.countsPromptTokens || parameters.attribution != nil { promptTokens = try parameters.promptTokens(service.model.tokenizer) }
        } catch {
            return Self.error(400, "invalid_request", error.message)
        }
        if parameters.attribution != nil, promptTokens!.count + parameters.maxTokens > service.attribution.tokensMax {
            return Self.error(400, "invalid_request", "attribution covers at most \(service.attribution.tokensMax) prompt and completion tokens, and this prompt with max_tokens could reach \(promptTokens!.count + parameters.maxTokens): lower max_tokens or shorten the prompt")
        }
        let priced = PricedRequest(model: parameters.model, adapterID: adapter?.id, maxTokens: parameters.maxTokens,
                                   promptTokens: promptTokens?.count, resource: Self.resource(request))
        let paid: PaidRequest?
        switch policy.admit(request, priced) {
        case .free: paid = nil
        case let .paid(request): paid = request
        case let .refused(response): return response
        }
        if promptTokens == nil {
            do { promptTokens = try parameters.promptTokens(service.model.tokenizer) } catch {
                paid?.release()
                return Self.error(400, "invalid_request", error.message)
            }
        }
        let generationRequest = parameters.generation(promptTokens: promptTokens!)
        let answer = CompletionAnswer(chat: chat, model: parameters.model, promptTokens: generationRequest.promptTokens.count)
        let wanted = parameters.attribution, requestHash = Digest.blake2b(request.body)
        /// The attribution of `generation` on the adapter (none for the base model).
        @Sendable func job(_ generation: Generation, _ wanted: CompletionParameters.Attribution?) -> AttributionService.Job? {
            guard let wanted, let adapter else { return nil }
            return AttributionService.Job(adapter: adapter, promptTokens: generation.promptTokens, completionTokens: generation.tokens,
                                          requestHash: requestHash, method: wanted.method, top: wanted.top)
        }
        @Sendable func attributionJob(_ generation: Generation) -> AttributionService.Job? { job(generation, wanted) }
        @Sendable func settle(_ paid: PaidRequest, _ generation: Generation, traced: AttributionService.Outcome?) -> SettlementResponse {
            let receipt = paid.settle(generatedTokens: generation.tokens.count)
            releaseRoyalties(paid, receipt, traced: traced, unasked: job(generation, .standard))
            return receipt
        }
        let adapterID = adapter?.id
        if parameters.stream {
            let stream = HTTPBodyStream()
            let ticket: GenerationTicket
            do {
                ticket = try service.scheduler.submit(generationRequest, adapterID: adapterID) { [attribution = service.attribution, service] scheduled in
                    let event = Self.shown(scheduled, adapter: adapter, log: service.log)
                    for chunk in answer.events(for: event) { stream.write(Array("data: \(chunk)\n\n".utf8)) }
                    if case .text = event { return }
                    @Sendable func end(_ outcome: AttributionService.Outcome?, top: Int) {
                        if let outcome { stream.write(Array("data: \(answer.attributionChunk(Self.view(outcome, top: top)))\n\n".utf8)) }
                        @Sendable func close() {
                            stream.write(Array("data: [DONE]\n\n".utf8))
                            stream.finish()
                        }
                        guard let paid else { return close() }
                        // Settling waits for a block in commit mode: never on the decode loop's
                        // thread (this callback's) or attribution's.
                        DispatchQueue.global().async {
                            switch event {
                            case let .finished(generation):
                                stream.write(Array("data: \(answer.paymentChunk(settle(paid, generation, traced: outcome).json))\n\n".utf8))
                            case let .cancelled(generated):
                                // The client left: upto pays for what was generated, exact nothing.
                                paid.abandon(generatedTokens: generated)
                            default:
                                paid.release()
                            }
                            close()
                        }
                    }
                    guard case .finished(let generation) = event, let job = attributionJob(generation) else { return end(nil, top: 0) }
                    if let reason = attribution.submit(job, done: { end($0, top: job.top) }) { end(.skipped(reason), top: job.top) }
                }
            } catch {
                paid?.release()
                return Self.refusal(error)
            }
            stream.onClose { ticket.cancel() }
            return paid == nil ? .eventStream(stream) : PricedServingPolicy.exposing(.eventStream(stream))
        }
        let outcome = Handoff<Result<Generation, GenerationFailure>>()
        let ticket: GenerationTicket
        do {
            ticket = try service.scheduler.submit(generationRequest, adapterID: adapterID) { [service] scheduled in
                switch Self.shown(scheduled, adapter: adapter, log: service.log) {
                case .text: break
                case .finished(let generation): outcome.finish(.success(generation))
                case .failed(let message): outcome.finish(.failure(GenerationFailure(message: message)))
                case .cancelled(let generated):
                    outcome.finish(.failure(GenerationFailure(message: "the generation was cancelled", cancelledAfterTokens: generated)))
                }
            }
        } catch {
            paid?.release()
            return Self.refusal(error)
        }
        // A client that leaves before its whole answer is ready cancels it, as a stream's does.
        switch outcome.wait(askingEvery: Self.clientCheckIntervalMs, request.clientLeft, abandon: { ticket.cancel() }) {
        case .success(let generation):
            var whole = answer.whole(generation)
            var traced: AttributionService.Outcome?
            if let job = attributionJob(generation) {
                let handoff = Handoff<AttributionService.Outcome>()
                if let reason = service.attribution.submit(job, done: { handoff.finish($0) }) { traced = .skipped(reason) } else { traced = handoff.wait() }
                whole["attribution"] = Self.view(traced!, top: job.top)
            }
            guard let paid else { return .json(whole) }
            return paid.answer(.json(whole), receipt: settle(paid, generation, traced: traced))
        case .failure(let failure):
            // The client left: upto pays for what was generated, exact nothing (as for streams).
            if let generated = failure.cancelledAfterTokens { paid?.abandon(generatedTokens: generated) } else { paid?.release() }
            return Self.error(503, "generation_failed", failure.message)
        }
    }

    /// `event` as a client may see it: a failure's message (an adapter that no longer loads
    /// names its files) with the adapter's directory written `<adapter>`, as the adapter routes
    /// show no path to anyone but administrators; the whole message goes to the log.
    static func shown(_ event: GenerationEvent, adapter: AdapterInfo?, log: Logger) -> GenerationEvent {
        guard case let .failed(message) = event else { return event }
        log.warning("generation failed", ["adapter": adapter?.id ?? "base", "error": message])
        guard let adapter else { return event }
        return .failed(message.replacingOccurrences(of: adapter.path, with: "<adapter>"))
    }

    /// After a settlement that leaves the contributors an escrow, releases it by the answer's
    /// attribution: `traced` when the client asked for one, else one queued now (`unasked`),
    /// off the answer's path. Without an index the escrow is left to expire.
    private func releaseRoyalties(_ paid: PaidRequest, _ receipt: SettlementResponse, traced: AttributionService.Outcome?, unasked: AttributionService.Job?) {
        guard receipt.success, let settlement = Digest(hex: receipt.transaction), paid.settler.leavesEscrow(charged: receipt.amount, adapter: paid.adapter) else { return }
        let releaser = RoyaltyReleaser(settler: paid.settler)
        if let traced { return releaser.release(settlement: settlement, outcome: traced) }
        guard let job = unasked, AttributionService.hasIndex(job.adapter) else {
            return releaser.release(settlement: settlement, outcome: .skipped("the adapter has no attribution index here"))
        }
        if let reason = service.attribution.submit(job, done: { releaser.release(settlement: settlement, outcome: $0) }) {
            releaser.release(settlement: settlement, outcome: .skipped(reason))
        }
    }

    /// The URL a request was made to, as offers name it: `http://<Host><path>`.
    static func resource(_ request: HTTPRequest) -> String {
        "http://\(request.headers["host"] ?? "localhost")\(request.path)"
    }

    /// An answer's `attribution` object.
    static func view(_ outcome: AttributionService.Outcome, top: Int) -> [String: Any] {
        switch outcome {
        case let .attributed(result, proof):
            var object = result.json(baseModel: proof.baseModel.hex, top: top)
            object["status"] = "attributed"
            object["proof_id"] = proof.id.hex
            return object
        case let .skipped(reason): return ["status": "skipped", "reason": reason]
        }
    }

    /// `GET /v1/attributions/{id}`.
    private func proof(_ id: String) -> HTTPResponse {
        guard let digest = Digest(hex: id) else { return Self.error(400, "invalid_request", "a proof id is 64 lowercase hex digits") }
        guard let json = service.attribution.proofs.json(id: digest) else { return Self.error(404, "not_found", "no attribution proof \(id) here") }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(json))
    }

    static func refusal(_ error: ScheduleError) -> HTTPResponse {
        switch error {
        case .busy:
            var response = Self.error(429, "busy", error.description)
            response.headers.append(("Retry-After", "1"))
            return response
        case .stopped: return Self.error(503, "unavailable", error.description)
        default: return Self.error(400, "invalid_request", error.description)
        }
    }

    /// OpenAI's error shape.
    static func error(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        .json(["error": ["message": message, "type": status == 429 || status >= 500 ? "server_error" : "invalid_request_error", "code": code]], status: status)
    }
}

/// Why a generation failed, as the scheduler says.
struct GenerationFailure: Error {
    let message: String
    /// Tokens generated before the request was cancelled; nil when it failed otherwise.
    var cancelledAfterTokens: Int?
}

/// A value handed from one thread (the scheduler's, attribution's) to another that waits for it.
final class Handoff<Value>: @unchecked Sendable {  // `value` is guarded by `condition`
    private let condition = NSCondition()
    private var value: Value?

    func finish(_ result: Value) {
        condition.withLock {
            value = result
            condition.signal()
        }
    }

    func wait() -> Value {
        condition.withLock {
            while value == nil { condition.wait() }
            return value!
        }
    }

    /// Waits for the value, asking `gone` every `intervalMs` meanwhile; the first time it
    /// says yes, calls `abandon` (which should make the value come) and waits on.
    func wait(askingEvery intervalMs: Int, _ gone: () -> Bool, abandon: () -> Void) -> Value {
        var abandoned = false
        while true {
            let ready = condition.withLock {
                if value == nil { _ = condition.wait(until: Date().addingTimeInterval(Double(intervalMs) / 1_000)) }
                return value
            }
            if let ready { return ready }
            if !abandoned && gone() {
                abandoned = true
                abandon()
            }
        }
    }
}
