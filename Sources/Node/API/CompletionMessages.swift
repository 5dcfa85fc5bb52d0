import Attribution
import Foundation
import Inference

/// A completion request's body, checked and turned into a `GenerationRequest`.
/// A completion request as read from its body: everything but the prompt's tokens, which are
/// counted only when admission needs them or the request is admitted (`promptTokens`).
struct CompletionParameters {
    let model: String
    /// The prompt text (for chat, the rendered template).
    let prompt: String
    let maxTokens: Int
    let sampling: SamplingParameters
    let stopStrings: [String]
    let stream: Bool
    /// `"attribution": true` (or `{"method", "top"}`): trace the answer to the adapter's datanet.
    let attribution: Attribution?

    struct Attribution: Sendable {
        let method: InfluenceMethod
        /// Documents listed in the answer and the proof (0: all).
        let top: Int
        static let topDefault = 10
        /// `"attribution": true`: the default method, the default number of documents.
        static let standard = Attribution(method: .defaultMethod, top: topDefault)
    }

    struct Invalid: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Stop strings a request may give.
    static let stopStringsMax = 4
    /// `max_tokens` when a completion request leaves it out (OpenAI's default).
    static let completionMaxTokensDefault = 16
    /// `max_tokens` when a chat request leaves it out.
    static let chatMaxTokensDefault = 512

    init(body: [UInt8], chat: Bool, model base: LlamaModel) throws(Invalid) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw Invalid("the body must be a JSON object")
        }
        guard let model = object["model"] as? String, !model.isEmpty else { throw Invalid("'model' is required (GET /v1/models lists them)") }
        self.model = model
        if let n = object["n"], Self.integer(n) != 1 { throw Invalid("only n = 1 is supported") }
        let text: String
        if chat {
            text = try Self.chatPrompt(object["messages"], template: base.chatTemplate)
        } else {
            switch object["prompt"] {
            case let prompt as String: text = prompt
            case let prompts as [String] where prompts.count == 1: text = prompts[0]
            default: throw Invalid("'prompt' must be a string")
            }
        }
        prompt = text
        let maxTokensDefault = chat ? Self.chatMaxTokensDefault : Self.completionMaxTokensDefault
        maxTokens = try Self.number(object, chat ? ["max_completion_tokens", "max_tokens"] : ["max_tokens"], default: maxTokensDefault, in: 0...Int(Int32.max))
        let temperature = try Self.number(object, ["temperature"], default: 1.0, in: 0...2)
        let topP = try Self.number(object, ["top_p"], default: 1.0, in: 0.000_001...1)
        let topK = try Self.number(object, ["top_k"], default: 0, in: 0...1_000_000)
        var seed = UInt64.random(in: 0...UInt64.max)
        if let value = object["seed"], !(value is NSNull) {
            guard let given = Self.integer(value), given >= 0 else { throw Invalid("'seed' must be a non-negative integer") }
            seed = UInt64(given)
        }
        let stops: [String]
        switch object["stop"] {
        case nil, is NSNull: stops = []
        case let stop as String: stops = [stop]
        case let list as [String] where list.count <= Self.stopStringsMax: stops = list
        default: throw Invalid("'stop' must be a string or a list of at most \(Self.stopStringsMax) strings")
        }
        switch object["stream"] {
        case nil, is NSNull: stream = false
        case let flag as Bool: stream = flag
        default: throw Invalid("'stream' must be true or false")
        }
        switch object["attribution"] {
        case nil, is NSNull: attribution = nil
        case let flag as Bool:
            attribution = flag ? .standard : nil
        case let options as [String: Any]:
            guard Set(options.keys).isSubset(of: ["method", "top"]) else { throw Invalid("'attribution' takes only 'method' and 'top'") }
            let name = options["method"] as? String ?? InfluenceMethod.defaultMethod.rawValue
            guard let method = InfluenceMethod(rawValue: name) else {
                throw Invalid("'attribution.method' must be one of \(InfluenceMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            attribution = Attribution(method: method, top: try Self.number(options, ["top"], default: Attribution.topDefault, in: 0...AttributionProof.entriesMax))
        default: throw Invalid("'attribution' must be true, false or {\"method\", \"top\"}")
        }
        sampling = SamplingParameters(temperature: Float(temperature), topK: topK, topP: Float(topP), seed: seed)
        stopStrings = stops
    }

    /// The prompt's tokens, the tokenizer's BOS first when it adds one.
    func promptTokens(_ tokenizer: BPETokenizer) throws(Invalid) -> [Int32] {
        var tokens = tokenizer.encode(prompt)
        if tokenizer.addsBOS, let bos = tokenizer.bosTokenId { tokens.insert(bos, at: 0) }
        guard !tokens.isEmpty else { throw Invalid("the prompt is empty") }
        return tokens
    }

    func generation(promptTokens: [Int32]) -> GenerationRequest {
        GenerationRequest(promptTokens: promptTokens, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings)
    }

    private static func chatPrompt(_ value: Any?, template: ChatTemplate?) throws(Invalid) -> String {
        guard let list = value as? [[String: Any]], !list.isEmpty else { throw Invalid("'messages' must be a non-empty list of {role, content}") }
        var messages: [ChatMessage] = []
        for entry in list {
            guard let role = entry["role"] as? String, ["system", "user", "assistant"].contains(role) else {
                throw Invalid("each message needs a role: system, user or assistant")
            }
            guard let content = entry["content"] as? String else { throw Invalid("each message needs a string 'content'") }
            messages.append(ChatMessage(role: role, content: content))
        }
        guard let template else { throw Invalid("this model has no chat template; use /v1/completions") }
        return template.render(messages, addGenerationPrompt: true)
    }

    /// A JSON number; nil for anything else, booleans included (JSONSerialization gives them
    /// as NSNumber of type `c`).
    private static func jsonNumber(_ value: Any) -> NSNumber? {
        guard let number = value as? NSNumber, number.objCType.pointee != CChar(UInt8(ascii: "c")) else { return nil }
        return number
    }

    /// JSON numbers that are whole, as Int (booleans are not numbers here).
    private static func integer(_ value: Any) -> Int? {
        guard let number = Self.jsonNumber(value) else { return nil }
        let double = number.doubleValue
        return double.rounded() == double && abs(double) < 9e15 ? Int(double) : nil
    }

    /// The first of `keys` present, checked against `range`; `fallback` when none is (or null).
    private static func number<T: BinaryFloatingPoint>(_ object: [String: Any], _ keys: [String], default fallback: T, in range: ClosedRange<T>) throws(Invalid) -> T {
        guard let key = keys.first(where: { object[$0] != nil && !(object[$0] is NSNull) }) else { return fallback }
        guard let number = jsonNumber(object[key]!), range.contains(T(number.doubleValue)) else {
            throw Invalid("'\(key)' must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return T(number.doubleValue)
    }

    private static func number(_ object: [String: Any], _ keys: [String], default fallback: Int, in range: ClosedRange<Int>) throws(Invalid) -> Int {
        guard let key = keys.first(where: { object[$0] != nil && !(object[$0] is NSNull) }) else { return fallback }
        guard let value = integer(object[key]!), range.contains(value) else {
            throw Invalid("'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

/// Builds the JSON answers of one completion: the whole object, or the chunks of a stream.
final class CompletionAnswer: @unchecked Sendable {  // `roleSent` is guarded by `lock`
    let chat: Bool
    let model: String
    let promptTokens: Int
    let id: String
    let created = Int(Date().timeIntervalSince1970)
    private let lock = NSLock()
    private var roleSent = false

    init(chat: Bool, model: String, promptTokens: Int) {
        self.chat = chat
        self.model = model
        self.promptTokens = promptTokens
        self.id = (chat ? "chatcmpl-" : "cmpl-") + (0..<12).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The complete answer of a non-streamed request.
    func whole(_ generation: Generation) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": Self.finishReason(generation)]
        if chat {
            choice["message"] = ["role": "assistant", "content": generation.text]
        } else {
            choice["text"] = generation.text
            choice["logprobs"] = NSNull()
        }
        return envelope(object: chat ? "chat.completion" : "text_completion", choice: choice, usage: usage(generation))
    }

    /// The stream chunks (JSON text) an event becomes.
    func events(for event: GenerationEvent) -> [String] {
        switch event {
        case .text(let text): return [chunk(text: text, finish: nil)]
        case .finished(let generation): return [chunk(text: nil, finish: generation)]
        case .failed(let message): return [Self.serialize(["error": ["message": message, "type": "server_error", "code": "generation_failed"]])]
        case .cancelled: return []  // the client has gone
        }
    }

    /// The stream chunk that carries an answer's `attribution` object, after the last text chunk.
    func attributionChunk(_ attribution: [String: Any]) -> String {
        var answer = envelope(object: chat ? "chat.completion.chunk" : "text_completion", choice: [:], usage: nil)
        answer["choices"] = [Any]()
        answer["attribution"] = attribution
        return Self.serialize(answer)
    }

    /// The last chunk of a paid stream: the settlement receipt.
    func paymentChunk(_ receipt: [String: Any]) -> String {
        var answer = envelope(object: chat ? "chat.completion.chunk" : "text_completion", choice: [:], usage: nil)
        answer["choices"] = [Any]()
        answer["payment_response"] = receipt
        return Self.serialize(answer)
    }

    private func chunk(text: String?, finish: Generation?) -> String {
        var choice: [String: Any] = ["index": 0, "finish_reason": finish.map(Self.finishReason) ?? NSNull()]
        if chat {
            var delta: [String: Any] = [:]
            if let text { delta["content"] = text }
            if lock.withLock({ defer { roleSent = true }; return !roleSent }) { delta["role"] = "assistant" }
            choice["delta"] = delta
        } else {
            choice["text"] = text ?? ""
            choice["logprobs"] = NSNull()
        }
        return Self.serialize(envelope(object: chat ? "chat.completion.chunk" : "text_completion", choice: choice, usage: finish.map(usage)))
    }

    private func envelope(object: String, choice: [String: Any], usage: [String: Any]?) -> [String: Any] {
        var answer: [String: Any] = ["id": id, "object": object, "created": created, "model": model, "choices": [choice]]
        if let usage { answer["usage"] = usage }
        return answer
    }

    private func usage(_ generation: Generation) -> [String: Any] {
        ["prompt_tokens": promptTokens, "completion_tokens": generation.tokens.count, "total_tokens": promptTokens + generation.tokens.count]
    }

    private static func finishReason(_ generation: Generation) -> String {
        generation.finishReason == .length ? "length" : "stop"
    }

    private static func serialize(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
