import Attribution
import Crypto
import Foundation
import Inference

/// The fidelity and speed half of `tributary bench attribution`, on the planted-facts adapter.
struct AttributionSpeedBench {
    let model: LlamaModel
    let threads: Int
    let workDirectory: String

    /// Projected against exact scores on the first `documents` documents of a datanet
    /// (index rebuilt on that subset, timed), averaged over `queries`.
    func fidelity(adapterDirectory: String, datanet: String, queries: [AttributionQuery], documents: Int) throws -> [String: Any] {
        let directory = (workDirectory as NSString).appendingPathComponent("fidelity")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let subset = (directory as NSString).appendingPathComponent("datanet.jsonl")
        let lines = try String(contentsOfFile: datanet, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count >= documents else { throw CommandError("the datanet has \(lines.count) documents, fewer than \(documents)") }
        try (lines.prefix(documents).joined(separator: "\n") + "\n").write(toFile: subset, atomically: true, encoding: .utf8)
        let adapter = try LoRAAdapter.load(path: adapterDirectory, for: model.configuration)
        let parameters = try LoRAParameters(pairs: adapter.pairs(), configuration: model.configuration)
        let engine = GradientEngine(model: model, threads: threads)
        let file = try TrainingDocuments(path: subset)
        Output.note("[fidelity] indexing \(documents) documents…")
        let start = DispatchTime.now().uptimeNanoseconds
        let (index, spans) = try AttributionIndexBuilder(engine: engine, parameters: parameters, adapterID: Digest(hex: adapter.id)!, seed: 1,
                                                          maxTokensPerDocument: 256).build(file)
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let attributor = try Attributor(engine: engine, parameters: parameters, index: index, spans: spans, documents: file)
        Output.note("[fidelity] computing the \(documents) exact gradients…")
        let exact = try attributor.exactGradients()
        var figures: [String: Any] = [
            "documents": documents, "index_documents_per_s": Double(documents) / buildSeconds, "feature_bytes_per_document": index.featureBytesPerDocument,
            "index_bytes_per_document": Double(try Self.fileBytes(index: index, spans: spans, directory: directory)) / Double(documents),
        ]
        var perMethod: [String: [String: Double]] = [:]
        let tokenizer = model.tokenizer, ids = index.documents.map(\.id.hex)
        let tokenized = queries.map { (prompt: tokenizer.encode($0.prompt), completion: tokenizer.encode($0.completion)) }
        let gradients = try tokenized.map { try attributor.queryGradient(prompt: $0.prompt, completion: $0.completion) }
        let relevances = tokenized.map { attributor.textRelevance(prompt: $0.prompt, completion: $0.completion) }
        let top = { (scores: [Double]) in Set(RankingMetrics.ranking(scores: scores, documentIDs: ids).prefix(10)) }
        let statistics = RowStatistics(exact, pool: engine.pool)
        for method in InfluenceMethod.allCases {
            var spearman: [Double] = [], overlap: [Double] = []
            for ((query, gradient), relevance) in zip(zip(tokenized, gradients), relevances) {
                let projected = try attributor.scores(queryGradient: gradient, prompt: query.prompt, completion: query.completion, method: method, exact: false)
                let full = InfluenceScorer.scores(method, statistics: statistics, query: gradient, textRelevance: relevance)
                spearman.append(RankingMetrics.spearman(projected, full))
                overlap.append(Double(top(projected).intersection(top(full)).count) / 10)
            }
            perMethod[method.rawValue] = ["spearman": Self.mean(spearman), "top10_overlap": Self.mean(overlap)]
        }
        figures["methods"] = perMethod
        return figures
    }

    /// Scoring time of every method over `documents` rows (the index's features repeated).
    func scoringSpeed(_ attributor: Attributor, query: AttributionQuery, documents: Int) throws -> [String: Double] {
        let index = attributor.index
        let matrix = FeatureMatrix(rows: (0..<documents).map { index.features.row($0 % index.documents.count) }, width: index.featureCount,
                                   blocks: index.features.blocks)
        let tokenizer = model.tokenizer
        let gradient = try attributor.queryGradient(prompt: tokenizer.encode(query.prompt), completion: tokenizer.encode(query.completion))
        let texts = attributor.documentTexts()
        let wordsStart = DispatchTime.now().uptimeNanoseconds
        let words = BM25(texts: (0..<documents).map { texts[$0 % texts.count] })
        let wordsMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - wordsStart) / 1e6
        let projectStart = DispatchTime.now().uptimeNanoseconds
        let features = attributor.features(of: gradient)
        var times: [String: Double] = ["projection_ms": Double(DispatchTime.now().uptimeNanoseconds - projectStart) / 1e6, "text_index_ms": wordsMilliseconds]
        // The statistics are computed once per index, when an attributor first needs them.
        let statistics = RowStatistics(matrix, pool: attributor.engine.pool)
        _ = statistics.standardization
        for (name, compute) in [("hubness_ms", { _ = statistics.hubness }), ("fisher_factorisation_ms", { _ = statistics.fisher })] {
            let start = DispatchTime.now().uptimeNanoseconds
            compute()
            times[name] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        for method in InfluenceMethod.allCases {
            times[method.rawValue + "_ms"] = Self.median((0..<5).map { _ in
                let start = DispatchTime.now().uptimeNanoseconds
                // A method that uses text scores the query's words too, timed with it.
                let relevance = method.usesText ? words.scores(query: query.prompt + query.completion) : nil
                _ = InfluenceScorer.scores(method, statistics: statistics, query: features, textRelevance: relevance)
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            })
        }
        return times
    }

    /// Time to generate `answerTokens` greedy tokens against time to take the query gradient of
    /// the answer, medians over `queries`: after generation (its recorded passes reused, what a
    /// node that generated the answer alone pays), replayed from the tokens in generation's
    /// passes (what a verifier of that proof pays), and in a single pass (what a serving node,
    /// whose batches mixed the answer with others, pays, and its verifier).
    func queryGradientSpeed(_ attributor: Attributor, queries: [AttributionQuery], answerTokens: Int) throws -> [String: Double] {
        var generation: [Double] = [], gradient: [Double] = [], replayed: [Double] = [], singlePass: [Double] = [], tokens: [Double] = []
        func timed<T>(_ times: inout [Double], _ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            defer { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
            return try body()
        }
        for query in queries {
            let prompt = model.tokenizer.encode(query.prompt)
            let answer = try timed(&generation) { try attributor.generate(prompt: prompt, maxTokens: answerTokens) }
            let completion = answer.generation.tokens
            guard !completion.isEmpty else { continue }
            let reused = try timed(&gradient) { try attributor.queryGradient(of: answer) }
            let full = try timed(&replayed) { try attributor.queryGradient(prompt: prompt, completion: completion, forward: .generation) }
            guard reused.map(\.bitPattern) == full.map(\.bitPattern) else { throw CommandError("the query gradient after generation differs from the replayed one") }
            _ = try timed(&singlePass) { try attributor.queryGradient(prompt: prompt, completion: completion, forward: .singlePass) }
            tokens.append(Double(completion.count))
        }
        return ["generation_ms": Self.median(generation), "query_gradient_ms": Self.median(gradient),
                "query_gradient_recomputed_ms": Self.median(replayed), "query_gradient_single_pass_ms": Self.median(singlePass),
                "answer_tokens": Self.median(tokens)]
    }

    /// Span lookups on a datanet of at least `tokens` tokens: the planted facts with enough
    /// distractors, looked up with every fact's answer and with copies of documents.
    func spanSpeed(tokens: Int) throws -> [String: Double] {
        let tokenizer = model.tokenizer
        var distractors = 1_000, documents: [[Int32]] = [], task: AttributionTask
        repeat {
            task = PlantedFactsGenerator(seed: 2, distractorCount: distractors).task()
            documents = task.documents.map { $0.tokenized(tokenizer).tokens }
            distractors *= 2
        } while documents.reduce(0, { $0 + $1.count }) < tokens
        let buildStart = DispatchTime.now().uptimeNanoseconds
        let index = try SpanIndex(documents: documents)
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e9
        let matcher = SpanMatcher(index: index, startsWord: WordStarts.table(for: tokenizer))
        var random = SplitMix64(seed: 3)
        let copies = (0..<40).map { _ in documents[Int(random.next() % UInt64(documents.count))] + documents[Int(random.next() % UInt64(documents.count))] }
        let completions = task.queries.map { tokenizer.encode($0.completion) } + copies
        let times = completions.map { completion in
            let start = DispatchTime.now().uptimeNanoseconds
            _ = matcher.spans(of: completion) { tokenizer.decodeText($0) }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        return ["datanet_tokens": Double(index.tokenCount), "suffix_array_build_s": buildSeconds, "lookup_median_ms": Self.median(times),
                "lookup_max_ms": times.max() ?? 0]
    }

    static func fileBytes(index: AttributionIndex, spans: SpanIndex, directory: String) throws -> Int {
        let folder = (directory as NSString).appendingPathComponent("index")
        try index.write(to: folder)
        let size = (try FileManager.default.attributesOfItem(atPath: folder + "/" + AttributionIndex.fileName)[.size] as? Int) ?? 0
        return size + spans.byteCount
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
    static func median(_ values: [Double]) -> Double { BenchLoraCommand.median(values) }
}
