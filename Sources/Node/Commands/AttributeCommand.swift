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
            .init(name: "features", value: "N", help: "Features per document, split between the blocks by their gradients' energy (default 32760: 16 KB as int4 levels with the scale)."),
            .init(name: "max-tokens-per-doc", value: "N", help: "Tokens kept of each document (default 256, as train)."),
            ModelCommands.modelOption, ModelCommands.homeOption, ModelCommands.threadsOption,
        ]
    ) { arguments in
        let (engine, parameters, adapter, documents) = try load(arguments)
        let builder = AttributionIndexBuilder(
            engine: engine, parameters: parameters, adapterID: Digest(hex: adapter.id)!,
            seed: try arguments.integer("seed", default: 1, in: 0...UInt64.max),
            featureBudget: try featureBudget(arguments, parameters, default: GradientProjection.featureBudgetDefault),
            maxTokensPerDocument: try maxTokensPerDocument(arguments, engine, default: maxTokensPerDocumentDefault))
        let start = DispatchTime.now().uptimeNanoseconds
        let (index, spans) = try builder.build(documents) { done in
            if done % 64 == 0 || done == documents.count { Output.note("indexed \(done)/\(documents.count) documents") }
        }
        let directory = try indexDirectory(arguments)
        try index.write(to: directory)
        try spans.write(to: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        Output.note(String(format: "%d documents in %.1f s (%.1f documents/s), %d features (%d bytes) per document", documents.count, seconds,
                           Double(documents.count) / seconds, index.featureCount, index.featureBytesPerDocument))
        print(index.root.hex)
    }

    /// Tokens kept of each document unless `--max-tokens-per-doc` says otherwise: train's default.
    static let maxTokensPerDocumentDefault = 256

    static func featureBudget(_ arguments: ParsedArguments, _ parameters: LoRAParameters, default budget: Int) throws -> Int {
        try arguments.integer("features", default: budget, in: GradientBlocks(parameters).blocks.count...1 << 20)
    }

    static func maxTokensPerDocument(_ arguments: ParsedArguments, _ engine: GradientEngine, default tokens: Int) throws -> Int {
        try arguments.integer("max-tokens-per-doc", default: tokens, in: 2...engine.sequenceTokensLimit)
    }

    static let attribute = CommandSpec(
        path: ["attribute"],
        summary: "Trace a completion of a LoRA adapter to the datanet documents that shaped it, or verify a proof.",
        discussion: """
        The query is --prompt followed by --completion (each tokenized on its own, no special
        tokens added), or by the adapter's greedy completion of --max-tokens tokens; its loss is
        the mean cross-entropy of the completion tokens. Every document is scored against the
        query's LoRA gradient by --method (docs/attribution.md) on the
        index's projected features, or with --exact on every document's full gradient. --json
        prints {"adapter", "base_model", "completion", "completion_tokens", "method": {"name",
        "exact", "projection_dimension", "seed", "damping"}, "influence": [{"doc", "contributor",
        "score"}], "contributors": [{"address", "weight"}], "spans": [{"text", "start_token",
        "end_token", "docs", "count"}]}, influence highest first (--top documents; 0: all);
        base_model is the BLAKE2b-256 of the model file. --proof FILE also writes the signed
        proof (docs/attribution.md, "Proofs"), signed by --key on --chain-id (default: the node
        key and chain of --home).

        --verify FILE reads a proof, checks its id and signature, and with --adapter recomputes
        it from the adapter, its index (rebuilt from --datanet when the index beside the adapter
        is missing, has another root, or --rebuild-index is given) and the proof's tokens,
        accepting only the same top documents, scores, contributor weights and spans. Exits 1
        on any difference, naming it.
        """,
        options: [
            adapterOption, datanetOption,
            .init(name: "prompt", value: "TEXT", help: "The prompt."),
            .init(name: "completion", value: "TEXT", help: "The completion to attribute (default: generate one)."),
            .init(name: "max-tokens", value: "N", help: "Tokens to generate when --completion is not given (default 32)."),
            .init(name: "method", value: "NAME", help: "\(InfluenceMethod.allCases.map(\.rawValue).joined(separator: ", ")) (default \(InfluenceMethod.defaultMethod.rawValue); see docs/attribution.md)."),
            .flag("exact", "Score full gradients instead of the index's projected features (small datanets)."),
            .init(name: "top", value: "N", help: "Documents listed (default 10; 0: all)."),
            .init(name: "span-min-tokens", value: "N", help: "Shortest verbatim span reported, in tokens (default 6)."),
            .flag("json", "Print one JSON object."),
            .init(name: "proof", value: "FILE", help: "Also write the signed proof of this attribution to FILE."),
            .init(name: "key", value: "FILE", help: "Key file that signs --proof (default: the node key of --home)."),
            .init(name: "chain-id", value: "ID", help: "Chain the proof is signed for (default: the chain of --home's genesis)."),
            .init(name: "verify", value: "FILE", help: "Check the proof in FILE (recomputed when --adapter is given)."),
            .flag("rebuild-index", "With --verify: rebuild the index from --datanet even if one is beside the adapter."),
            .init(name: "features", value: "N", help: "With --verify, for a rebuilt index: features per document (default: the proof's projection dimension; for an --exact proof the index beside the adapter's, else 32760)."),
            .init(name: "max-tokens-per-doc", value: "N", help: "With --verify, for a rebuilt index: tokens kept of each document (default: the index beside the adapter's, else 256, as train)."),
            ModelCommands.modelOption, ModelCommands.homeOption, ModelCommands.threadsOption,
        ]
    ) { arguments in
        if let proofPath = arguments.value("verify") { return try verify(proofPath, arguments) }
        let prompt = try arguments.required("prompt")
        guard let method = InfluenceMethod(rawValue: arguments.value("method") ?? InfluenceMethod.defaultMethod.rawValue) else {
            throw UsageError("--method must be one of \(InfluenceMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let top = try arguments.integer("top", default: 10, in: 0...1_000_000)
        let rules = SpanRules(minTokens: try arguments.integer("span-min-tokens", default: 6, in: 1...10_000))
        let signer = try arguments.value("proof").map { _ in try proofSigner(arguments) }
        let (engine, parameters, adapter, documents) = try load(arguments)
        let directory = try indexDirectory(arguments)
        let index: AttributionIndex, spans: SpanIndex
        do {
            (index, spans) = try readIndex(directory)
        } catch {
            throw CommandError("\(error); build the index with 'tributary attribute index --adapter \(try arguments.required("adapter")) --datanet \(documents.path)'")
        }
        guard index.adapterID.hex == adapter.id else { throw CommandError("the index in \(directory) was built for adapter \(index.adapterID.hex), not \(adapter.id)") }
        let tokenizer = engine.model.tokenizer
        let promptTokens = tokenizer.encode(prompt)
        guard !promptTokens.isEmpty else { throw UsageError("the prompt encodes to no tokens") }
        let completionText = arguments.value("completion")
        let maxTokens = try arguments.integer("max-tokens", default: 32, in: 1...4096)
        let tokensMax = engine.sequenceTokensLimit
        if let completionText {
            let completion = tokenizer.encode(completionText)
            guard promptTokens.count + completion.count <= tokensMax else {
                throw UsageError("the prompt and completion are \(promptTokens.count + completion.count) tokens; attribution covers at most \(tokensMax)")
            }
        } else {
            guard promptTokens.count + maxTokens <= tokensMax else {
                throw UsageError("the prompt (\(promptTokens.count) tokens) and --max-tokens \(maxTokens) could reach \(promptTokens.count + maxTokens) tokens; attribution covers at most \(tokensMax)")
            }
        }
        let attributor = try Attributor(engine: engine, parameters: parameters, index: index, spans: spans, documents: documents)
        let answer = completionText == nil ? try attributor.generate(prompt: promptTokens, maxTokens: maxTokens) : nil
        let completion = answer?.generation.tokens ?? tokenizer.encode(completionText!)
        guard !completion.isEmpty else { throw UsageError("the completion is empty: nothing to attribute") }
        let result = try attributor.attribute(prompt: promptTokens, completion: completion, answer: answer, method: method, exact: arguments.flag("exact"), spanRules: rules)
        let baseModel = try AttributionProof.baseModelHash(path: engine.model.path)
        var proofID: String?
        if let path = arguments.value("proof"), let (key, chainID) = signer {
            // The request a command-line attribution answers: what was asked, as sorted JSON.
            var request: [String: Any] = ["adapter": adapter.id, "prompt": prompt, "method": method.rawValue, "exact": arguments.flag("exact"), "top": top]
            if let completionText { request["completion"] = completionText } else { request["max_tokens"] = maxTokens }
            let requestBytes = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])
            let proof = try AttributionProof(signing: result, top: top, requestHash: Digest.blake2b(requestBytes), baseModel: baseModel,
                                         promptTokens: promptTokens, spanMinTokens: rules.minTokens, key: key, chainID: chainID)
            try proof.json().write(to: URL(fileURLWithPath: path), options: .atomic)
            proofID = proof.id.hex
            Output.note("wrote proof \(proof.id.hex) to \(path)")
        }
        if arguments.flag("json") {
            var object = result.json(baseModel: baseModel.hex, top: top)
            if let proofID { object["proof_id"] = proofID }
            return try Output.json(object, pretty: false)
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

    /// `attribute --verify FILE`.
    static func verify(_ path: String, _ arguments: ParsedArguments) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read \(path)") }
        let proof: AttributionProof
        do { proof = try AttributionProof(json: data) } catch { throw CommandError("\(path): \(error)") }
        guard arguments.value("adapter") != nil else {
            print("proof \(proof.id.hex): signature by \(proof.provider.hex) verifies; not recomputed (give --adapter and --datanet to recompute)")
            return
        }
        let model = try ModelCommands.load(arguments)
        let adapter = try LoRAAdapter.load(path: try arguments.required("adapter"), for: model.configuration)
        let parameters = try LoRAParameters(pairs: adapter.pairs(), configuration: model.configuration)
        let engine = GradientEngine(model: model, threads: try ModelCommands.threads(arguments))
        let documents = try arguments.value("datanet").map { try TrainingDocuments(path: $0) }
        guard proof.adapterID.hex == adapter.id else {
            throw CommandError("\(path): \(AttributionProofError.mismatch(field: "adapter", proof: proof.adapterID.hex, recomputed: adapter.id))")
        }
        var stored = try? readIndex(try indexDirectory(arguments))
        if arguments.flag("rebuild-index") || stored == nil || stored?.0.root != proof.indexRoot {
            guard let documents else {
                throw CommandError("the index beside the adapter is missing or has another root than the proof's \(proof.indexRoot.hex): give --datanet to rebuild it")
            }
            // The proof names the seed and, unless exact, the features per document (the budget
            // when it is at most the gradient's width, the width otherwise: either way the same
            // split); the document length is the index's or train's unless given.
            let budget = try featureBudget(arguments, parameters, default: proof.method.exact
                ? stored?.0.featureBudget ?? GradientProjection.featureBudgetDefault : proof.method.projectionDimension)
            let maxTokens = try maxTokensPerDocument(arguments, engine, default: stored?.0.maxTokensPerDocument ?? maxTokensPerDocumentDefault)
            let builder = AttributionIndexBuilder(engine: engine, parameters: parameters, adapterID: Digest(hex: adapter.id)!, seed: proof.method.seed,
                                                  featureBudget: budget, maxTokensPerDocument: maxTokens)
            Output.note("rebuilding the attribution index from \(documents.path) (--features \(budget) --max-tokens-per-doc \(maxTokens))")
            stored = try builder.build(documents)
            guard stored!.0.root == proof.indexRoot else {
                throw CommandError("\(path): the index rebuilt from \(documents.path) with --features \(budget) --max-tokens-per-doc \(maxTokens) has root \(stored!.0.root.hex), not the proof's \(proof.indexRoot.hex): another datanet, or an index built with other settings (give them)")
            }
        }
        let (index, spans) = stored!
        let attributor = try Attributor(engine: engine, parameters: parameters, index: index, spans: spans, documents: documents)
        do {
            try AttributionProofCheck.verify(proof, attributor: attributor, baseModel: try AttributionProof.baseModelHash(path: model.path))
        } catch let error as AttributionProofError {
            throw CommandError("\(path): \(error)")
        }
        print("proof \(proof.id.hex) verified: signed by \(proof.provider.hex); recomputed top \(proof.influence.count), contributor weights and spans match exactly")
    }

    /// The key and chain id that sign `--proof`: `--key` and `--chain-id`, else the node key
    /// and genesis chain of `--home`.
    static func proofSigner(_ arguments: ParsedArguments) throws -> (SigningKey, String) {
        let home = NodeHome(arguments: arguments)
        let key = try arguments.value("key").map { try KeyFile.read(from: $0) } ?? home.nodeKey(try NodeConfig.load(home: home.path))
        let chainID = try arguments.value("chain-id") ?? home.genesis().chainID
        guard !chainID.isEmpty, chainID.utf8.count <= SigningDomain.chainIDMaxBytes else {
            throw UsageError("--chain-id must be 1 to \(SigningDomain.chainIDMaxBytes) bytes")
        }
        return (key, chainID)
    }

    static func readIndex(_ directory: String) throws -> (AttributionIndex, SpanIndex) {
        (try AttributionIndex(directory: directory), try SpanIndex(contentsOf: (directory as NSString).appendingPathComponent(AttributionIndex.spanFileName)))
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
