import Foundation
import Inference

/// `tributary generate`: one completion of a prompt, streamed or as JSON.
enum GenerateCommand {
    static let spec = CommandSpec(
        path: ["generate"],
        summary: "Complete a prompt with the local model.",
        discussion: """
        Text is encoded as is (special tokens such as <|im_start|> are recognised) and the
        completion streams to stdout. --json prints {"prompt_tokens": [...], "tokens": [...],
        "text": "...", "finish_reason": "length|eos|stop"} instead, where tokens are the generated
        ids (without the end-of-sequence token). --temperature 0 is greedy.
        """,
        options: [
            .init(name: "prompt", value: "TEXT", help: "The prompt."),
            .init(name: "prompt-file", value: "FILE", help: "Read the prompt from FILE (exactly as written)."),
            .init(name: "max-tokens", value: "N", help: "Most tokens to generate (default 128)."),
            .init(name: "temperature", value: "T", help: "Sampling temperature; 0 is greedy (default 0.8)."),
            .init(name: "top-k", value: "K", help: "Sample among the K most likely tokens; 0 for all (default 40)."),
            .init(name: "top-p", value: "P", help: "Sample among the most likely tokens up to probability P (default 0.95)."),
            .init(name: "seed", value: "N", help: "Seed of the sampler (default: random)."),
            .init(name: "stop", value: "TEXT", help: "Stop when the text contains TEXT.", isRepeatable: true),
            .flag("json", "Print one JSON object instead of streaming text."),
            .init(name: "logits-out", value: "FILE", help: "Write the logits after the last prompt token as little-endian float32."),
            ModelCommands.modelOption,
            .init(name: "adapter", value: "DIR|ID", help: "Apply a LoRA adapter: a PEFT directory or GGUF LoRA file, or the id or name of one in <home>/adapters."),
            ModelCommands.homeOption,
            ModelCommands.threadsOption,
            ModelCommands.activationsOption,
        ]
    ) { arguments in
        let prompt = try promptText(arguments)
        let maxTokens = try arguments.integer("max-tokens", default: 128, in: 0...1_000_000)
        let sampling = try samplingParameters(arguments)
        let model = try ModelCommands.load(arguments)
        let generator = TextGenerator(engine: InferenceEngine(model: model, threads: try ModelCommands.threads(arguments), activations: try ModelCommands.activations(arguments)))
        let tokenizer = model.tokenizer
        var promptTokens = tokenizer.encode(prompt)
        if tokenizer.addsBOS, let bos = tokenizer.bosTokenId { promptTokens.insert(bos, at: 0) }
        guard !promptTokens.isEmpty else { throw UsageError("the prompt encodes to no tokens") }
        let json = arguments.flag("json")
        let adapter = try arguments.value("adapter").map { try ModelCommands.adapter($0, for: model, arguments) }
        let request = GenerationRequest(promptTokens: promptTokens, maxTokens: maxTokens, sampling: sampling, stopStrings: arguments.allValues("stop"), adapter: adapter)
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try generator.generate([request]) { _, text in
            guard !json else { return }
            FileHandle.standardOutput.write(Data(text.utf8))
        }[0]
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let path = arguments.value("logits-out") {
            let data = result.promptLogits.withUnsafeBufferPointer { buffer in
                Data(buffer: UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self), count: buffer.count * 4))
            }
            try data.write(to: URL(fileURLWithPath: path))
        }
        if json {
            try Output.json([
                "prompt_tokens": result.promptTokens.map(Int.init),
                "tokens": result.tokens.map(Int.init),
                "text": result.text,
                "finish_reason": result.finishReason.rawValue,
            ], pretty: false)
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))
            let decodeSeconds = seconds - result.firstTokenSeconds
            Output.note(String(
                format: "[%d prompt tokens, %d generated (%@); first token after %.0f ms, %.1f tokens/s after]",
                promptTokens.count, result.tokens.count, result.finishReason.rawValue, result.firstTokenSeconds * 1000,
                result.tokens.count > 1 && decodeSeconds > 0 ? Double(result.tokens.count - 1) / decodeSeconds : 0))
        }
    }

    static func promptText(_ arguments: ParsedArguments) throws -> String {
        switch (arguments.value("prompt"), arguments.value("prompt-file")) {
        case let (text?, nil): return text
        case let (nil, path?):
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read prompt file \(path)") }
            guard let text = String(data: data, encoding: .utf8) else { throw CommandError("prompt file \(path) is not UTF-8") }
            return text
        case (nil, nil): throw UsageError("give the prompt with --prompt TEXT or --prompt-file FILE")
        case (_?, _?): throw UsageError("--prompt and --prompt-file are mutually exclusive")
        }
    }

    /// `--temperature`, `--top-k`, `--top-p`, `--seed`; a random seed unless one is given.
    static func samplingParameters(_ arguments: ParsedArguments) throws -> SamplingParameters {
        SamplingParameters(
            temperature: Float(try arguments.decimal("temperature", default: 0.8, in: 0...100)),
            topK: try arguments.integer("top-k", default: 40, in: 0...1_000_000),
            topP: Float(try arguments.decimal("top-p", default: 0.95, in: 0.000_001...1)),
            seed: try arguments.integer("seed", default: UInt64.random(in: 0...UInt64.max), in: 0...UInt64.max))
    }
}
