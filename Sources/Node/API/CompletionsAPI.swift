import Foundation
import Inference

/// Decides whether a completion request may be scheduled. Every completion passes through
/// one before it is queued; the payment layer answers 402 here.
protocol ServingPolicy: Sendable {
    /// Nil lets the request through; otherwise the response to send instead.
    func admit(_ request: HTTPRequest, model: String) -> HTTPResponse?
}

/// Admits every request: a node that does not charge for inference.
struct OpenServingPolicy: ServingPolicy {
    func admit(_ request: HTTPRequest, model: String) -> HTTPResponse? { nil }
}

/// The OpenAI-style inference API:
///
/// | route | answer |
/// | --- | --- |
/// | `GET /v1/models` | the base model and hosted adapters |
/// | `POST /v1/completions` | `{model, prompt, max_tokens, temperature, top_p, top_k, seed, stop, stream}` |
/// | `POST /v1/chat/completions` | the same with `messages` instead of `prompt`, through the model's chat template |
///
/// With `stream: true` the answer is server-sent events, one `data: {chunk}` per piece of text,
/// the last chunk carrying `finish_reason` and `usage`, then `data: [DONE]`. Errors use
/// OpenAI's shape `{"error": {"message", "type", "code"}}`; a full queue is 429 `busy`.
struct CompletionsAPI: Sendable {
    let service: ModelService
    let policy: any ServingPolicy

    static let routes: [(method: String, path: String)] = [
        ("GET", "/v1/models"), ("POST", "/v1/completions"), ("POST", "/v1/chat/completions"),
    ]

    /// The answer for `request`, or nil when the path is not one of this API's routes.
    func handle(_ request: HTTPRequest) -> HTTPResponse? {
        guard let route = Self.routes.first(where: { $0.path == request.path }) else { return nil }
        guard route.method == request.method else {
            var response = Self.error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
            response.headers.append(("Allow", route.method))
            return response
        }
        switch request.path {
        case "/v1/models": return models()
        case "/v1/completions": return complete(request, chat: false)
        default: return complete(request, chat: true)
        }
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
        let adapterID: String?
        switch service.resolve(parameters.model) {
        case .base: adapterID = nil
        case .adapter(let info): adapterID = info.id
        case .unknown: return Self.error(404, "model_not_found", "no model or adapter '\(parameters.model)' here; GET /v1/models lists them")
        }
        if let refusal = policy.admit(request, model: parameters.model) { return refusal }
        let answer = CompletionAnswer(chat: chat, model: parameters.model, promptTokens: parameters.generation.promptTokens.count)
        if parameters.stream {
            let stream = HTTPBodyStream()
            let ticket: GenerationTicket
            do {
                ticket = try service.scheduler.submit(parameters.generation, adapterID: adapterID) { event in
                    for chunk in answer.events(for: event) { stream.write(Array("data: \(chunk)\n\n".utf8)) }
                    if case .text = event { return }
                    stream.write(Array("data: [DONE]\n\n".utf8))
                    stream.finish()
                }
            } catch {
                return Self.refusal(error)
            }
            stream.onClose { ticket.cancel() }
            return .eventStream(stream)
        }
        let outcome = Outcome()
        do {
            _ = try service.scheduler.submit(parameters.generation, adapterID: adapterID) { event in
                switch event {
                case .text: break
                case .finished(let generation): outcome.finish(.success(generation))
                case .failed(let message): outcome.finish(.failure(message))
                }
            }
        } catch {
            return Self.refusal(error)
        }
        switch outcome.wait() {
        case .success(let generation): return .json(answer.whole(generation))
        case .failure(let message): return Self.error(503, "generation_failed", message)
        }
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

    /// The result of a non-streamed request, handed from the scheduler's thread to the connection's.
    private final class Outcome: @unchecked Sendable {  // `result` is guarded by `condition`
        enum Result { case success(Generation), failure(String) }
        private let condition = NSCondition()
        private var result: Result?

        func finish(_ value: Result) {
            condition.withLock {
                result = value
                condition.signal()
            }
        }

        func wait() -> Result {
            condition.withLock {
                while result == nil { condition.wait() }
                return result!
            }
        }
    }
}
