import Attribution
import Crypto
import Foundation
import Inference

/// `tributary attribute`: trace an answer of a LoRA adapter to the documents it was trained on.
enum AttributeCommand {
    static let adapterOption = CommandSpec.Option(name: "adapter", value: "DIR", help: "The PEFT adapter directory (its index lives in DIR/attribution).")
    static let datanetOption = CommandSpec.Option(name: "datanet", value: "FILE", help: "The datanet file (JSON Lines) the adapter was trained on.")

    static let index = CommandSpec(
        path: ["attribute", "index"],
        summary: "Build an adapter's attribution index from its datanet file.",
        discussion: """
        Computes every document's own LoRA gradient (its mean next-token loss, tokens cut to
        --max-tokens-per-doc as training does), projects it to --features features with seeded
        random signs (docs/attribution.md), and writes DIR/attribution/index.bin with the
        documents' ids and contributors and a Merkle root, and DIR/attribution/spans.index, the
        suffix array of every document's tokens. Prints the root.
        """,
        options: [
            adapterOption, datanetOption,
            .init(name: "seed", value: "N", help: "Seed of the projection (default 1)."),
            .init(name: "features", value: "N", help: "Features per document, shared by the blocks (default 4096: 16 KB)."),
            .init(name: "max-tokens-per-doc", value: "N", help: "Tokens kept of each document (default 256, as train)."),
            ModelCommands.modelOption, ModelCommands.homeOption, ModelCommands.threadsOption,
        ]
    ) { arguments in
        let (engine, parameters, adapter, documents) = try load(arguments)
        let builder = AttributionIndexBuilder(
            engine: engine, parameters: parameters, adapterID: Digest(hex: adapter.id)!,
            seed: try arguments.integer("seed", default: 1, in: 0...UInt64.max),
            featureBudget: try arguments.integer("features", default: GradientProjection.featureBudgetDefault, in: 1...1 << 20),
            maxTokensPerDocument: try arguments.integer("max-tokens-per-doc", default: 256, in: 2...GradientEngine.sequenceTokensMax))
        let start = DispatchTime.now().uptimeNanoseconds
        let (index, spans) = try builder.build(documents) { done in
            if done % 64 == 0 || done == documents.count { Output.note("indexed \(done)/\(documents.count) documents") }
        }
        let directory = try indexDirectory(arguments)
        try index.write(to: directory)
        try spans.write(to: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        Output.note(String(format: "%d documents in %.1f s (%.1f documents/s), %d features (%d bytes) per document", documents.count, seconds,
                           Double(documents.count) / seconds, index.featureCount, 4 * index.featureCount))
        print(index.root.hex)
    }

    static let attribute = CommandSpec(
        path: ["attribute"],
        summary: "Trace a completion of a LoRA adapter to the datanet documents that shaped it.",
        discussion: """
        The query is --prompt followed by --completion (each tokenized on its own, no special
        tokens added), or by the adapter's greedy completion of --max-tokens tokens; its loss is
        the mean cross-entropy of the completion tokens. Every document is scored against the
        query's LoRA gradient by --method (datainf, dot or cosine; docs/attribution.md) on the
        index's projected features, or with --exact on every document's full gradient. --json
        prints {"adapter", "base_model", "completion", "completion_tokens", "method": {"name",
        "exact", "projection_dimension", "seed", "damping"}, "influence": [{"doc", "contributor",
        "score"}], "contributors": [{"address", "weight"}], "spans": [{"text", "start_token",
        "end_token", "docs", "count"}]}, influence highest first (--top documents; 0: all).
        """,
        options: [
            adapterOption, datanetOption,
            .init(name: "prompt", value: "TEXT", help: "The prompt."),
            .init(name: "completion", value: "TEXT", help: "The completion to attribute (default: generate one)."),
            .init(name: "max-tokens", value: "N", help: "Tokens to generate when --completion is not given (default 32)."),
            .init(name: "method", value: "NAME", help: "datainf, dot or cosine (default cosine; see docs/attribution.md)."),
            .flag("exact", "Score full gradients instead of the index's projected features (small datanets)."),
            .init(name: "top", value: "N", help: "Documents listed (default 10; 0: all)."),
            .init(name: "span-min-tokens", value: "N", help: "Shortest verbatim span reported, in tokens (default 6)."),
            .flag("json", "Print one JSON object."),
            ModelCommands.modelOption, ModelCommands.homeOption, ModelCommands.threadsOption,
        ]
    ) { arguments in
        let prompt = try arguments.required("prompt")
        guard let method = InfluenceMethod(rawValue: arguments.value("method") ?? InfluenceMethod.cosine.rawValue) else {
            throw UsageError("--method must be one of \(InfluenceMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let top = try arguments.integer("top", default: 10, in: 0...1_000_000)
        let rules = SpanRules(minTokens: try arguments.integer("span-min-tokens", default: 6, in: 1...10_000))
        let (engine, parameters, adapter, documents) = try load(arguments)
        let directory = try indexDirectory(arguments)
        let index: AttributionIndex, spans: SpanIndex
        do {
            index = try AttributionIndex(directory: directory)
            spans = try SpanIndex(contentsOf: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName))
        } catch {
            throw CommandError("\(error); build the index with 'tributary attribute index --adapter \(try arguments.required("adapter")) --datanet \(documents.path)'")
        }
        guard index.adapterID.hex == adapter.id else { throw CommandError("the index in \(directory) was built for adapter \(index.adapterID.hex), not \(adapter.id)") }
        let tokenizer = engine.model.tokenizer
        let promptTokens = tokenizer.encode(prompt)
        guard !promptTokens.isEmpty else { throw UsageError("the prompt encodes to no tokens") }
        let completion: [Int32]
        if let text = arguments.value("completion") {
            completion = tokenizer.encode(text)
        } else {
            let generator = TextGenerator(engine: InferenceEngine(model: engine.model, threads: engine.threadCount))
            let maxTokens = try arguments.integer("max-tokens", default: 32, in: 1...4096)
            completion = try generator.generate([GenerationRequest(promptTokens: promptTokens, maxTokens: maxTokens, adapter: adapter)])[0].tokens
        }
        guard !completion.isEmpty else { throw UsageError("the completion is empty: nothing to attribute") }
        let attributor = try Attributor(engine: engine, parameters: parameters, index: index, spans: spans, documents: documents)
        let result = try attributor.attribute(prompt: promptTokens, completion: completion, method: method, exact: arguments.flag("exact"), spanRules: rules)
        if arguments.flag("json") {
            return try Output.json(result.json(baseModel: (engine.model.path as NSString).lastPathComponent, top: top), pretty: false)
        }
        print("completion: \(result.completionText)")
        print("influence (\(method.rawValue)\(result.exact ? ", exact" : ""), highest first):")
        for entry in top == 0 ? result.influence : Array(result.influence.prefix(top)) {
            print(String(format: "  %+.6e  %@  %@", entry.score, entry.document.hex, entry.contributor?.hex ?? "-"))
        }
        print("contributors:")
        for share in result.contributors { print(String(format: "  %.4f  %@", share.weight, share.address.hex)) }
        print("verbatim spans:")
        for span in result.spans { print("  [\(span.startToken), \(span.endToken)) ×\(span.count) \(span.text.debugDescription)") }
    }

    /// The model, a gradient engine, the adapter's factors and the datanet file.
    static func load(_ arguments: ParsedArguments) throws -> (GradientEngine, LoRAParameters, LoRAAdapter, TrainingDocuments) {
        let documents = try TrainingDocuments(path: try arguments.required("datanet"))
        let model = try ModelCommands.load(arguments)
        let adapter = try LoRAAdapter.load(path: try arguments.required("adapter"), for: model.configuration)
        let parameters = try LoRAParameters(pairs: adapter.pairs(), configuration: model.configuration)
        return (GradientEngine(model: model, threads: try ModelCommands.threads(arguments)), parameters, adapter, documents)
    }

    static func indexDirectory(_ arguments: ParsedArguments) throws -> String {
        (try arguments.required("adapter") as NSString).appendingPathComponent("attribution")
    }
}
