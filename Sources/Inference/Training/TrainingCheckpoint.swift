import Foundation

/// The state `LoRATrainer` keeps after each epoch in `<out>/checkpoint.safetensors`: the
/// factors and AdamW's moments as tensors, and in the metadata the epochs done, the
/// optimizer step, the settings, the data's digest and the thread count — everything a
/// resumed run must match to continue bit for bit as if never stopped. Written to a
/// temporary file, flushed and renamed, so a kill leaves the old checkpoint or the new one.
struct TrainingCheckpoint {
    static let fileName = "checkpoint.safetensors"
    var epochsDone: Int
    var parameters: LoRAParameters
    var optimizer: AdamW
    /// What must equal between the run that wrote it and the one resuming.
    var identity: [String: String]

    func write(to directory: String) throws(AdapterError) {
        let target = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        var metadata = identity
        metadata["epochs_done"] = String(epochsDone)
        metadata["optimizer_step"] = String(optimizer.step)
        let count = parameters.values.count
        let tensors: [SafetensorsWriter.Tensor] = [
            .init(name: "values", shape: [count], values: parameters.values),
            .init(name: "adam_m", shape: [count], values: optimizer.firstMoment),
            .init(name: "adam_v", shape: [count], values: optimizer.secondMoment),
        ]
        try DurableFile.replace(target) { (file: FileSink) throws(AdapterError) in
            try SafetensorsWriter.write(tensors, type: .f32, metadata: metadata, to: file)
        }
    }

    /// The checkpoint in `directory`, if any; throws when it exists but was written by a
    /// different run (other settings, data, thread count or model) or is damaged.
    static func read(
        from directory: String, expecting identity: [String: String], layout: LoRAParameters, weightDecay: Float, epochs: Int
    ) throws(TrainingResumeError) -> TrainingCheckpoint? {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw .damaged(path: path, reason: "\(error)") }
        for (key, value) in identity.sorted(by: { $0.key < $1.key }) where file.metadata[key] != value {
            throw .mismatch(path: path, field: key, checkpoint: file.metadata[key] ?? "(none)", now: value)
        }
        let count = layout.values.count
        guard let done = file.metadata["epochs_done"].flatMap(Int.init), (0...epochs).contains(done),
              let step = file.metadata["optimizer_step"].flatMap(Int.init), step >= 0,
              let values = file.tensor("values"), let m = file.tensor("adam_m"), let v = file.tensor("adam_v"),
              [values, m, v].allSatisfy({ $0.type == .f32 && $0.elementCount == count })
        else { throw .damaged(path: path, reason: "missing or mis-sized state") }
        var parameters = layout
        parameters.values = values.floats()
        return TrainingCheckpoint(
            epochsDone: done, parameters: parameters,
            optimizer: AdamW(step: step, firstMoment: m.floats(), secondMoment: v.floats(), weightDecay: weightDecay), identity: identity)
    }
}

/// Why `--resume` cannot continue from a checkpoint.
public enum TrainingResumeError: Error, CustomStringConvertible {
    case damaged(path: String, reason: String)
    case mismatch(path: String, field: String, checkpoint: String, now: String)

    public var description: String {
        switch self {
        case let .damaged(path, reason): "checkpoint \(path) cannot be read: \(reason)"
        case let .mismatch(path, field, checkpoint, now):
            "checkpoint \(path) was written with \(field) = \(checkpoint), this run has \(now); resume with the same settings, data and threads, or remove \(path) (or choose another --out) to start afresh"
        }
    }
}
