import Crypto
import Foundation
import Inference

/// The model a node serves next to its chain API: the loaded base model, the LoRA adapters it
/// hosts, the continuous-batching scheduler that runs them, the attribution of their answers,
/// and the name clients use for the base in `model` fields.
final class ModelService: Sendable {
    let model: LlamaModel
    /// The base model's name: its file or directory name without extension.
    let name: String
    let adapters: AdapterStore
    let scheduler: GenerationScheduler
    let attribution: AttributionService
    let log: Logger

    /// Loads the model at `path`, registers every adapter directory or `.gguf` file in
    /// `adapterDirectory` (if it exists), and starts the scheduler on `threads` threads.
    /// Attribution proofs are signed by `attributionKey` for `chainID` and kept in `proofs`.
    init(path: String, threads: Int, activations: ActivationPrecision, limits: GenerationScheduler.Limits, adapterBudgetBytes: Int, adapterDirectory: String,
         attributionQueueMax: Int, attributionKey: SigningKey, chainID: String, proofs: AttributionProofStore, log: Logger) throws {
        self.log = log
        model = try LlamaModel(path: path)
        name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        adapters = AdapterStore(configuration: model.configuration, budgetBytes: adapterBudgetBytes)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: adapterDirectory)) ?? []
        for entry in entries.sorted() where !entry.hasPrefix(".") {
            let adapterPath = (adapterDirectory as NSString).appendingPathComponent(entry)
            do {
                let info = try adapters.register(path: adapterPath)
                log.info("adapter registered", ["name": info.name, "id": info.id, "bytes": info.byteCount])
            } catch {
                throw CommandError("adapter \(adapterPath): \(error)")
            }
        }
        scheduler = GenerationScheduler(engine: InferenceEngine(model: model, threads: threads, activations: activations), limits: limits, adapters: adapters)
        attribution = try AttributionService(model: model, queueMax: attributionQueueMax, key: attributionKey, chainID: chainID,
                                             proofs: proofs)
    }

    /// The adapter a request's `model` names (its id or name); nil for the base model.
    enum Resolution { case base, adapter(AdapterInfo), unknown }

    func resolve(_ model: String) -> Resolution {
        if model == name { return .base }
        if let info = adapters.info(id: model) ?? adapters.info(name: model) { return .adapter(info) }
        return .unknown
    }

    /// Fails what is queued or running and stops the scheduler's and attribution's threads.
    func stop() {
        scheduler.stop()
        attribution.stop()
    }
}
