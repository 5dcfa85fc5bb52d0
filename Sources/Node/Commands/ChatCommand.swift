import Foundation
import Inference

/// `tributary chat`: an interactive conversation in the model's chat format.
enum ChatCommand {
    static let spec = CommandSpec(
        path: ["chat"],
        summary: "Talk with the local model, one line per turn, in its chat template.",
        discussion: """
        Reads your turns from stdin, one per line, and streams the assistant's replies to stdout.
        The conversation stays in the model's cache between turns, so only new text is evaluated.
        Type /reset to start over, /exit (or end the input) to leave.
        """,
        options: [
            .init(name: "system", value: "TEXT", help: "System prompt (default: the template's own, if any)."),
            .init(name: "max-tokens", value: "N", help: "Most tokens per reply (default 512)."),
            .init(name: "temperature", value: "T", help: "Sampling temperature; 0 is greedy (default 0.8)."),
            .init(name: "top-k", value: "K", help: "Sample among the K most likely tokens; 0 for all (default 40)."),
            .init(name: "top-p", value: "P", help: "Sample among the most likely tokens up to probability P (default 0.95)."),
            .init(name: "seed", value: "N", help: "Seed of the sampler (default: random)."),
            ModelCommands.modelOption,
            ModelCommands.homeOption,
            ModelCommands.threadsOption,
            ModelCommands.activationsOption,
        ]
    ) { arguments in
        let maxTokens = try arguments.integer("max-tokens", default: 512, in: 1...1_000_000)
        var sampling = try GenerateCommand.samplingParameters(arguments)
        let model = try ModelCommands.load(arguments)
        guard let template = model.chatTemplate else {
            throw CommandError("\(model.path) has no chat template this engine renders (ChatML or Llama 3); use 'tributary generate'")
        }
        let engine = InferenceEngine(model: model, threads: try ModelCommands.threads(arguments), activations: try ModelCommands.activations(arguments))
        let generator = TextGenerator(engine: engine)
        let opening = arguments.value("system").map { [ChatMessage(role: "system", content: $0)] } ?? []
        var messages = opening
        let cache = engine.makeCache()
        var cachedTokens: [Int32] = []
        let interactive = isatty(STDIN_FILENO) != 0
        if interactive { Output.note("chatting with \(model.path); /reset starts over, /exit leaves") }
        while true {
            if interactive { FileHandle.standardError.write(Data("you> ".utf8)) }
            guard let line = readLine(strippingNewline: true), line != "/exit" else { break }
            if line == "/reset" {
                messages = opening
                cache.truncate(to: 0)
                cachedTokens = []
                continue
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            messages.append(ChatMessage(role: "user", content: line))
            let tokens = model.tokenizer.encode(template.render(messages, addGenerationPrompt: true))
            // Reuse the cached conversation up to where it still agrees with the new rendering.
            let shared = min(zip(cachedTokens, tokens).prefix { $0 == $1 }.count, tokens.count - 1)
            cache.truncate(to: shared)
            let request = GenerationRequest(promptTokens: Array(tokens[shared...]), maxTokens: maxTokens, sampling: sampling)
            do {
                let reply = try generator.generate([request], caches: [cache]) { _, text in
                    FileHandle.standardOutput.write(Data(text.utf8))
                }[0]
                FileHandle.standardOutput.write(Data("\n".utf8))
                messages.append(ChatMessage(role: "assistant", content: reply.text))
                cachedTokens = Array((tokens + reply.tokens).prefix(cache.length))
            } catch {
                Output.error("\(error); /reset to start a new conversation")
                messages.removeLast()
                cache.truncate(to: 0)
                cachedTokens = []
            }
            sampling.seed &+= 1
        }
    }
}
