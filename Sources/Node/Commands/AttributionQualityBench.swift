import Attribution
import Crypto
import Foundation
import Inference

/// The quality half of `tributary bench attribution`: for each seeded task, an adapter trained
/// by `tributary train` (which builds the attribution index), then every method's ranking of
/// the datanet for every query, against BM25 on the same queries.
struct AttributionQualityBench {
    /// How the bench trains a task's adapter (`tributary train` flags).
    struct Training: Equatable, Codable {
        var epochs: Int
        var learningRate: Double
        var rank: Int
        var targets: String
        var batchSize: Int

        var arguments: [String] {
            ["--epochs", "\(epochs)", "--learning-rate", "\(learningRate)", "--rank", "\(rank)", "--alpha", "\(2 * rank)", "--targets", targets,
             "--batch-size", "\(batchSize)", "--seed", "1"]
        }
    }

    /// One task's figures: a summary per method (and `bm25`).
    struct TaskResult {
        let task: String
        let recallK: Int
        let training: Training
        let trainedNow: Bool
        let trainingSeconds: Double?
        /// Queries whose first completion token is the adapter's greedy first token: whether
        /// the adapter learned what it is asked (0 of 60 on planted facts, docs/attribution.md).
        let answered: Int
        /// The queries' mean loss (nats per target token, over what `queryLoss` covers) under
        /// the adapter and under the base model: how far training moved the model toward the
        /// answers, whether or not it now gives them.
        let adapterLoss: Double
        let baseLoss: Double
        /// What each query's gradient was taken over.
        let queryLoss: AttributionTask.QueryLoss
        let summaries: [(method: String, summary: RankingSummary)]
    }

    let model: LlamaModel
    let threads: Int
    /// Where tasks, adapters and indexes are kept between runs (`--work`).
    let workDirectory: String
    let exact: Bool

    /// Writes `task`, trains its adapter unless one trained with `training` is already in the
    /// work directory, and ranks the datanet for every query by every method.
    func run(_ task: AttributionTask, training: Training, recallK: Int) throws -> TaskResult {
        let directory = (workDirectory as NSString).appendingPathComponent(task.name)
        let adapterDirectory = (directory as NSString).appendingPathComponent("adapter")
        let settingsPath = (directory as NSString).appendingPathComponent("training.json")
        try task.write(to: directory)
        let datanet = (directory as NSString).appendingPathComponent("datanet.jsonl")
        let previous = FileManager.default.contents(atPath: settingsPath).flatMap { try? JSONDecoder().decode(Training.self, from: $0) }
        // An adapter is reused only when trained with the same settings on this very datanet;
        // an index this build cannot read (an older version) is rebuilt, not the adapter.
        let indexDirectory = adapterDirectory + "/attribution"
        if previous == training, FileManager.default.fileExists(atPath: adapterDirectory), (try? AttributionIndex(directory: indexDirectory)) == nil {
            Output.note("[\(task.name)] rebuilding the attribution index of \(adapterDirectory)")
            _ = try Subprocess.output(Subprocess.tributary.path, ["attribute", "index", "--adapter", adapterDirectory, "--datanet", datanet,
                                                                 "--threads", "\(threads)", "--model", model.path])
        }
        let indexedDocuments = (try? AttributionIndex(directory: indexDirectory))?.documents.map(\.id.hex)
        var trainingSeconds: Double?
        if previous != training || indexedDocuments != task.documentIDs {
            try? FileManager.default.removeItem(atPath: adapterDirectory)
            try? FileManager.default.removeItem(atPath: settingsPath)
            Output.note("[\(task.name)] training an adapter on \(task.documents.count) documents: \(training.arguments.joined(separator: " "))")
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try Subprocess.output(Subprocess.tributary.path, ["train", "--datanet", datanet, "--out", adapterDirectory, "--threads", "\(threads)",
                                                                 "--model", model.path, "--json"] + training.arguments)
            trainingSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try JSONEncoder().encode(training).write(to: URL(fileURLWithPath: settingsPath))
        } else {
            Output.note("[\(task.name)] reusing the adapter in \(adapterDirectory) (trained with the same settings on the same datanet)")
        }
        let attributor = try Self.attributor(adapterDirectory: adapterDirectory, datanet: datanet, model: model, threads: threads)
        let tokenizer = model.tokenizer, ids = task.documentIDs
        precondition(ids == attributor.index.documents.map(\.id.hex), "the index follows the datanet's order")
        let variants = InfluenceMethod.allCases.map { ($0, false) } + (exact ? InfluenceMethod.allCases.map { ($0, true) } : [])
        var metrics: [String: [RankingMetrics]] = [:]
        let bm25 = BM25(documents: task.documents)
        // Exact scoring recomputes every document's gradient per call: do it once per task.
        let exactMatrix = exact ? try attributor.exactGradients() : nil
        let exactStatistics = exactMatrix.map { RowStatistics($0, pool: attributor.engine.pool) }
        var adapterLoss = 0.0, baseLoss = 0.0
        for (number, query) in task.queries.enumerated() {
            let attributed = task.attributedTokens(query, tokenizer: tokenizer)
            let (loss, gradient) = try attributor.queryLossAndGradient(prompt: attributed.prompt, completion: attributed.completion)
            adapterLoss += loss / Double(task.queries.count)
            baseLoss += try attributor.queryLossAndGradient(prompt: attributed.prompt, completion: attributed.completion, adapted: false).loss
                / Double(task.queries.count)
            // The attributor scores the words itself on the index; full gradients need them passed.
            let relevance = exact ? attributor.textRelevance(prompt: attributed.prompt, completion: attributed.completion) : nil
            for (method, isExact) in variants {
                let scores = isExact
                    ? InfluenceScorer.scores(method, statistics: exactStatistics!, query: gradient, textRelevance: relevance)
                    : try attributor.scores(queryGradient: gradient, prompt: attributed.prompt, completion: attributed.completion, method: method, exact: false)
                metrics[Self.name(method, exact: isExact), default: []].append(RankingMetrics(scores: scores, documentIDs: ids, relevant: query.relevant))
            }
            metrics["bm25", default: []].append(RankingMetrics(scores: bm25.scores(query: query.text), documentIDs: ids, relevant: query.relevant))
            if (number + 1) % 10 == 0 { Output.note("[\(task.name)] \(number + 1)/\(task.queries.count) queries") }
        }
        let order = variants.map { Self.name($0.0, exact: $0.1) } + ["bm25"]
        let adapter = try LoRAAdapter.load(path: adapterDirectory, for: model.configuration)
        let firstTokens = try TextGenerator(engine: InferenceEngine(model: model, threads: threads)).generate(
            task.queries.map { GenerationRequest(promptTokens: tokenizer.encode($0.prompt), maxTokens: 1, adapter: adapter) }).map(\.tokens.first)
        let answered = zip(task.queries, firstTokens).filter { query, token in token != nil && token == tokenizer.encode(query.completion).first }.count
        return TaskResult(task: task.name, recallK: recallK, training: training, trainedNow: trainingSeconds != nil, trainingSeconds: trainingSeconds,
                          answered: answered, adapterLoss: adapterLoss, baseLoss: baseLoss, queryLoss: task.queryLoss, summaries: order.map { ($0, RankingSummary(metrics[$0]!, recallK: recallK)) })
    }

    static func name(_ method: InfluenceMethod, exact: Bool) -> String { method.rawValue + (exact ? " (exact)" : "") }

    /// The attributor of a trained adapter directory and its datanet.
    static func attributor(adapterDirectory: String, datanet: String, model: LlamaModel, threads: Int) throws -> Attributor {
        let adapter = try LoRAAdapter.load(path: adapterDirectory, for: model.configuration)
        let parameters = try LoRAParameters(pairs: adapter.pairs(), configuration: model.configuration)
        let (index, spans) = try AttributeCommand.readIndex(adapterDirectory + "/attribution")
        return try Attributor(engine: GradientEngine(model: model, threads: threads), parameters: parameters, index: index, spans: spans,
                              documents: try TrainingDocuments(path: datanet))
    }
}
