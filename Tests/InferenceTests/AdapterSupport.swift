import Foundation
import Inference
import Testing

/// The PEFT fixture adapters (`Fixtures/adapters`) and their reference outputs.
enum AdapterFixtures {
    static let names = ["qv-r8", "all-r16", "mlp-r4-rslora"]

    /// Copies the fixture adapters into `directory/<name>/`, joining files stored in parts
    /// (`<file>.part0`, `.part1`, … — the repository takes no file over 10 MB).
    static func materialize(into directory: URL) throws {
        let manager = FileManager.default
        for name in names {
            let source = Fixtures.url("adapters").appendingPathComponent(name)
            let target = directory.appendingPathComponent(name)
            try manager.createDirectory(at: target, withIntermediateDirectories: true)
            var joined: [String: [(index: Int, url: URL)]] = [:]
            for file in try manager.contentsOfDirectory(atPath: source.path) {
                let url = source.appendingPathComponent(file)
                if let range = file.range(of: ".part", options: .backwards), let index = Int(file[range.upperBound...]) {
                    joined[String(file[..<range.lowerBound]), default: []].append((index, url))
                } else {
                    try manager.copyItem(at: url, to: target.appendingPathComponent(file))
                }
            }
            for (file, parts) in joined {
                var data = Data()
                for part in parts.sorted(by: { $0.index < $1.index }) { data += try Data(contentsOf: part.url) }
                try data.write(to: target.appendingPathComponent(file))
            }
        }
    }

    /// The three adapters loaded for the default model (from a temporary copy, removed again).
    static let loaded: Result<[String: LoRAAdapter], Error> = Result {
        let configuration = try DefaultModel.model().configuration
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try materialize(into: directory)
        var adapters: [String: LoRAAdapter] = [:]
        for name in names {
            adapters[name] = try LoRAAdapter.load(path: directory.appendingPathComponent(name).path, for: configuration)
        }
        return adapters
    }

    static func adapter(_ name: String) throws -> LoRAAdapter {
        try loaded.get()[name]!
    }

    static let logits: SafetensorsFile = try! SafetensorsFile(path: Fixtures.url("adapter-logits.safetensors").path)

    /// The reference logits after the last token of prompt `prompt` with adapter `name`.
    static func referenceLogits(_ name: String, prompt: Int) -> [Float] {
        logits.tensor("\(name).p\(prompt).logits_last")!.floats()
    }
}

extension Expected {
    /// The reference's 16 greedy tokens after prompt `prompt` with `adapter` (nil: the base).
    func greedy(adapter: String?, prompt: Int) -> [Int32] {
        cases.first { $0.adapter == adapter && $0.promptIndex == prompt }!.greedy
    }
}

/// A small random adapter for tests: `rank`-`rank` pairs for `projections` of `layers`,
/// values about ±0.05 so that outputs move but stay finite.
func randomPairs(
    configuration c: LlamaConfiguration, layers: [Int], projections: [Projection], rank: Int, scale: Float = 2, seed: UInt64
) -> [LoRAPair] {
    var generator = SplitMix64(seed: seed)
    return layers.flatMap { layer in
        projections.map { projection in
            let (inputs, outputs) = projection.shape(c)
            return LoRAPair(
                layer: layer, projection: projection, rank: rank, scale: scale,
                a: (0..<(rank * inputs)).map { _ in Float.random(in: -0.05...0.05, using: &generator) },
                b: (0..<(outputs * rank)).map { _ in Float.random(in: -0.05...0.05, using: &generator) })
        }
    }
}

/// Reads `directory/adapter_config.json`, lets `edit` change it and writes it back.
func editConfig(_ directory: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let url = directory.appendingPathComponent("adapter_config.json")
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    edit(&json)
    try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: url)
}
