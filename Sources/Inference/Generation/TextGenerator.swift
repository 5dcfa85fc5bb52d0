import Foundation

/// What to generate for one prompt.
public struct GenerationRequest: Sendable {
    /// The prompt, already tokenized (with BOS if the model wants one).
    public var promptTokens: [Int32]
    /// Most tokens to generate; 0 only evaluates the prompt.
    public var maxTokens: Int
    /// How tokens are chosen.
    public var sampling: SamplingParameters
    /// Generation stops when the text contains one of these; the text ends before it.
    public var stopStrings: [String]
    /// The LoRA adapter applied to the base model for this request, if any.
    public var adapter: LoRAAdapter?

    /// A request; empty stop strings are ignored.
    public init(promptTokens: [Int32], maxTokens: Int, sampling: SamplingParameters = .greedy, stopStrings: [String] = [], adapter: LoRAAdapter? = nil) {
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
        self.adapter = adapter
    }
}

/// The outcome of one request.
public struct Generation: Sendable {
    /// Why generation stopped; the raw values are what `--json` prints.
    public enum FinishReason: String, Sendable {
        /// `maxTokens` reached, or the context is full.
        case length
        /// The model produced an end-of-sequence token (not included in `tokens`).
        case endOfSequence = "eos"
        /// A stop string appeared (its tokens are in `tokens`, its text is not in `text`).
        case stopString = "stop"
    }

    /// The request's prompt.
    public var promptTokens: [Int32]
    /// Generated token ids.
    public var tokens: [Int32]
    /// The generated text (invalid UTF-8 replaced), without any stop string.
    public var text: String
    /// Why generation stopped.
    public var finishReason: FinishReason
    /// Logits after the last prompt token (`vocabularySize` floats).
    public var promptLogits: [Float]
    /// Seconds from the start of `generate` until this request's first token was chosen
    /// (until its prompt was evaluated, when no token was asked for).
    public var firstTokenSeconds: Double
}

/// Generates text for one or many prompts at once: all prompts are prefilled in one batched
/// pass, then every unfinished sequence advances by one token per batched decode step.
public final class TextGenerator {
    /// The engine that runs the model.
    public let engine: InferenceEngine
    private let stopTokenIds: Set<Int32>

    /// A generator stopping on `engine`'s model's end-of-sequence and end-of-turn tokens.
    public init(engine: InferenceEngine) {
        self.engine = engine
        self.stopTokenIds = engine.model.stopTokenIds
    }

    /// Runs `requests` together, each in a fresh sequence or, when `caches` are given,
    /// continuing those sequences (the prompt tokens are appended to them). `onText(index,
    /// text)` receives each request's text as it grows, in whole UTF-8 characters, holding
    /// back anything that may begin a stop string.
    public func generate(
        _ requests: [GenerationRequest], caches given: [KVCache]? = nil, onText: ((Int, String) -> Void)? = nil
    ) throws(InferenceError) -> [Generation] {
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let tokenizer = engine.model.tokenizer
        precondition(given == nil || given!.count == requests.count, "one cache per request")
        let caches = given ?? requests.map { _ in engine.makeCache() }
        let promptLogits = try engine.evaluate(requests.indices.map { (caches[$0], requests[$0].promptTokens, requests[$0].adapter) })
        var streams = requests.indices.map { index in
            GenerationStream(request: requests[index], sampler: Sampler(requests[index].sampling))
        }
        var results = requests.indices.map { index in
            Generation(promptTokens: requests[index].promptTokens, tokens: [], text: "", finishReason: .length, promptLogits: promptLogits[index], firstTokenSeconds: elapsed())
        }
        var logits = promptLogits
        var active = requests.indices.filter { requests[$0].maxTokens > 0 }
        while !active.isEmpty {
            var next: [(cache: KVCache, tokens: [Int32], adapter: LoRAAdapter?)] = []
            var stillActive: [Int] = []
            for (slot, index) in active.enumerated() {
                let token = streams[index].sampler.sample(logits[slot])
                if streams[index].tokens.isEmpty { results[index].firstTokenSeconds = elapsed() }
                if let reason = streams[index].accept(token, stopTokenIds: stopTokenIds, tokenizer: tokenizer, contextLeft: engine.configuration.contextLength - caches[index].length) {
                    results[index].finishReason = reason
                } else {
                    next.append((caches[index], [token], requests[index].adapter))
                    stillActive.append(index)
                }
                if let text = streams[index].newText(final: !stillActive.contains(index)) { onText?(index, text) }
            }
            active = stillActive
            if !next.isEmpty { logits = try engine.evaluate(next) }
        }
        for index in requests.indices {
            results[index].tokens = streams[index].tokens
            results[index].text = String(decoding: streams[index].visibleBytes, as: UTF8.self)
        }
        return results
    }
}
