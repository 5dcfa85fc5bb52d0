import Foundation
import Inference

/// The model a node serves next to its chain API: the loaded model, the continuous-batching
/// scheduler that runs it, and the name clients use for it in `model` fields.
final class ModelService: Sendable {
    let model: LlamaModel
    /// The base model's name: its file or directory name without extension.
    let name: String
    let scheduler: GenerationScheduler

    /// Loads the model at `path` and starts its scheduler on `threads` threads.
    init(path: String, threads: Int, limits: GenerationScheduler.Limits) throws {
        model = try LlamaModel(path: path)
        name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        scheduler = GenerationScheduler(engine: InferenceEngine(model: model, threads: threads), limits: limits)
    }

    /// Fails what is queued or running and stops the scheduler's thread.
    func stop() { scheduler.stop() }
}
