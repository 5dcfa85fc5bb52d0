import Foundation
import Inference
import Testing

/// Bad adapters are refused with an error that names the problem.
@Suite struct LoRAValidationTests {
    /// A valid two-layer q/v adapter of rank 4 in a fresh directory; the caller removes `root`.
    static func sample() throws -> (root: URL, adapter: URL, configuration: LlamaConfiguration) {
        let configuration = try DefaultModel.model().configuration
        let root = Fixtures.temporaryDirectory()
        let adapter = root.appendingPathComponent("sample")
        try PEFTWriter.write(randomPairs(configuration: configuration, layers: [0, 1], projections: [.query, .value], rank: 4, seed: 9),
                             configuration: configuration, to: adapter.path)
        return (root, adapter, configuration)
    }

    func load(_ url: URL, _ configuration: LlamaConfiguration) throws(AdapterError) -> LoRAAdapter {
        try LoRAAdapter.load(path: url.path, for: configuration)
    }

    @Test func missingFilesAreNamed() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        let nowhere = root.appendingPathComponent("nowhere")
        #expect(throws: AdapterError.missingFile(nowhere.path)) { try load(nowhere, configuration) }
        let weights = adapter.appendingPathComponent("adapter_model.safetensors")
        try FileManager.default.moveItem(at: weights, to: root.appendingPathComponent("kept.safetensors"))
        #expect(throws: AdapterError.missingFile(weights.path)) { try load(adapter, configuration) }
        try Data([1, 2, 3]).write(to: adapter.appendingPathComponent("adapter_model.bin"))
        #expect(throws: AdapterError.unsupportedOption("adapter_model.bin (PyTorch pickle); save the adapter with safetensors")) { try load(adapter, configuration) }
        try FileManager.default.moveItem(at: root.appendingPathComponent("kept.safetensors"), to: weights)
        let config = adapter.appendingPathComponent("adapter_config.json")
        try FileManager.default.removeItem(at: config)
        #expect(throws: AdapterError.missingFile(config.path)) { try load(adapter, configuration) }
        try Data("{\"r\": ".utf8).write(to: config)
        #expect(throws: AdapterError.badConfig("\(config.path) is not a JSON object")) { try load(adapter, configuration) }
    }

    @Test func shapesMustFitTheBaseModelAndTheRank() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        var narrower = configuration
        narrower.hiddenSize = 512
        #expect(throws: AdapterError.shapeMismatch(tensor: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: [4, 576], expected: [4, 512])) {
            try load(adapter, narrower)
        }
        var shallower = configuration
        shallower.layerCount = 1
        #expect(throws: AdapterError.layerOutOfRange(1, layerCount: 1)) { try load(adapter, shallower) }
        try editConfig(adapter) { $0["r"] = 8 }
        #expect(throws: AdapterError.shapeMismatch(tensor: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: [4, 576], expected: [8, 576])) {
            try load(adapter, configuration)
        }
        // A fixture adapter against a model with a different width.
        #expect(throws: AdapterError.self) { try LoRAAdapter.make(name: "x", configuration: narrower, pairs: try AdapterFixtures.adapter("qv-r8").pairs()) }
    }

    @Test func nonFiniteWeightsAreRefused() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        let weights = adapter.appendingPathComponent("adapter_model.safetensors")
        let original = try Data(contentsOf: weights)
        let file = try SafetensorsFile(path: weights.path)
        for (name, value) in [("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", Float.nan),
                              ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", -Float.infinity)] {
            let tensor = try #require(file.tensor(name))
            let offset = tensor.bytes.baseAddress! - file.file.base + 4 * 5
            var damaged = original
            withUnsafeBytes(of: value.bitPattern.littleEndian) { damaged.replaceSubrange(offset..<(offset + 4), with: $0) }
            try damaged.write(to: weights)
            #expect(throws: AdapterError.nonFiniteWeights(name)) { try load(adapter, configuration) }
        }
    }

    /// Half-precision files: NaN and infinities are found from the bits, wherever they lie.
    @Test func nonFiniteHalfPrecisionWeightsAreRefused() throws {
        let configuration = try DefaultModel.model().configuration
        let root = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let adapter = root.appendingPathComponent("half")
        let name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
        // f16: NaN, +∞, −∞; bf16: NaN, +∞, −∞. Element 3 lies in the vector loop, the last in the tail.
        for (type, bits) in [(TensorType.f16, [UInt16(0x7E00), 0x7C00, 0xFC00]), (.bf16, [0x7FC0, 0x7F80, 0xFF80])] {
            try PEFTWriter.write(randomPairs(configuration: configuration, layers: [0], projections: [.query], rank: 3, seed: 4),
                                 configuration: configuration, to: adapter.path, type: type)
            let weights = adapter.appendingPathComponent("adapter_model.safetensors")
            let original = try Data(contentsOf: weights)
            let file = try SafetensorsFile(path: weights.path)
            let tensor = try #require(file.tensor(name))
            let start = tensor.bytes.baseAddress! - file.file.base
            #expect(throws: Never.self) { try load(adapter, configuration) }
            // The largest finite magnitudes and the smallest subnormals are accepted.
            let extremes: [UInt16] = type == .f16 ? [0x7BFF, 0xFBFF, 0x0001, 0x8001] : [0x7F7F, 0xFF7F, 0x0001, 0x8001]
            var finite = original
            for (index, value) in extremes.enumerated() {
                let offset = start + 2 * [3, 4, tensor.elementCount - 2, tensor.elementCount - 1][index]
                withUnsafeBytes(of: value.littleEndian) { finite.replaceSubrange(offset..<(offset + 2), with: $0) }
            }
            try finite.write(to: weights)
            #expect(throws: Never.self) { try load(adapter, configuration) }
            for value in bits {
                for element in [3, tensor.elementCount - 1] {
                    let offset = start + 2 * element
                    var damaged = original
                    withUnsafeBytes(of: value.littleEndian) { damaged.replaceSubrange(offset..<(offset + 2), with: $0) }
                    try damaged.write(to: weights)
                    #expect(throws: AdapterError.nonFiniteWeights(name)) { try load(adapter, configuration) }
                }
            }
        }
    }

    @Test func unknownTargetModulesAreRefused() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        for entry in ["lm_head", "embed_tokens", "self_attn", "qkv_proj"] {
            try editConfig(adapter) { $0["target_modules"] = ["q_proj", entry, "v_proj"] }
            #expect(throws: AdapterError.unknownTargetModule(entry)) { try load(adapter, configuration) }
        }
        // Entries name a module by its whole path or by a suffix of it that starts at a dot.
        let paths = ["0.self_attn.q_proj", "layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "1.self_attn.v_proj"]
        try editConfig(adapter) { $0["target_modules"] = paths }
        #expect(try load(adapter, configuration).targets.count == 4)
        for entry in ["00.self_attn.q_proj", "x.model.layers.0.self_attn.q_proj", "layers.0.mlp.q_proj", "elf_attn.q_proj", ".q_proj", ""] {
            try editConfig(adapter) { $0["target_modules"] = paths + [entry] }
            #expect(throws: AdapterError.unknownTargetModule(entry)) { try load(adapter, configuration) }
        }
        try editConfig(adapter) { $0["target_modules"] = ["q_proj"] }
        #expect(throws: AdapterError.unexpectedTensor(
            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight (its module is not among target_modules/layers_to_transform)")) {
            try load(adapter, configuration)
        }
        try editConfig(adapter) { $0["target_modules"] = ["q_proj", "v_proj", "k_proj"] }
        #expect(throws: AdapterError.missingTensor("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight")) { try load(adapter, configuration) }
    }

    @Test func unsupportedPEFTOptionsAreRefusedByName() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        let cases: [(key: String, value: Any)] = [
            ("use_dora", true), ("bias", "all"), ("lora_bias", true), ("modules_to_save", ["lm_head"]), ("fan_in_fan_out", true),
            ("layer_replication", [[0, 4]]), ("target_parameters", ["mlp.experts.down_proj"]), ("use_qalora", true),
            ("trainable_token_indices", [1, 2]), ("exclude_modules", ["v_proj"]), ("peft_type", "IA3"), ("some_future_option", 3),
            ("target_modules", "q_proj|v_proj"), ("rank_pattern", ["^model.*q_proj$": 8]), ("layers_pattern", "h"),
        ]
        let original = try Data(contentsOf: adapter.appendingPathComponent("adapter_config.json"))
        for (key, value) in cases {
            try original.write(to: adapter.appendingPathComponent("adapter_config.json"))
            try editConfig(adapter) { $0[key] = value }
            do {
                _ = try load(adapter, configuration)
                Issue.record("\(key) = \(value) was accepted")
            } catch {
                guard case let .unsupportedOption(message) = error else { Issue.record("\(key): \(error)"); continue }
                #expect(message.contains(key), "\(message)")
            }
        }
    }

    @Test func ambiguousPatternsAndStrayTensorsAreRefused() throws {
        let (root, adapter, configuration) = try Self.sample()
        defer { try? FileManager.default.removeItem(at: root) }
        try editConfig(adapter) { $0["rank_pattern"] = ["q_proj": 4, "layers.0.self_attn.q_proj": 8] }
        #expect(throws: AdapterError.badConfig(
            "rank_pattern keys 'layers.0.self_attn.q_proj' and 'q_proj' both match model.layers.0.self_attn.q_proj with different values")) {
            try load(adapter, configuration)
        }
        try editConfig(adapter) { $0["rank_pattern"] = [:]; $0["layers_to_transform"] = [0, 99] }
        #expect(throws: AdapterError.layerOutOfRange(99, layerCount: 30)) { try load(adapter, configuration) }
        // A DoRA magnitude vector next to the factors.
        var builder = SafetensorsBuilder()
        builder.tensors = [("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", "F32", [576], float32Bytes([Float](repeating: 1, count: 576)))]
        let stray = root.appendingPathComponent("stray")
        try FileManager.default.createDirectory(at: stray, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: adapter.appendingPathComponent("adapter_config.json"), to: stray.appendingPathComponent("adapter_config.json"))
        try editConfig(stray) { $0["layers_to_transform"] = NSNull() }
        _ = write(builder.bytes(), named: "adapter_model.safetensors", in: stray)
        #expect(throws: AdapterError.unexpectedTensor("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector")) { try load(stray, configuration) }
    }

    @Test func ggufFilesThatAreNotLoRAAdaptersAreRefused() throws {
        let configuration = try DefaultModel.model().configuration
        #expect(throws: AdapterError.notAnAdapter("\(DefaultModel.path) has general.type model, not adapter")) {
            try LoRAAdapter.load(path: DefaultModel.path, for: configuration)
        }
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var builder = GGUFBuilder()
        builder.metadata = [("general.type", .string("adapter")), ("adapter.type", .string("lora")), ("adapter.lora.alpha", .f32(8))]
        builder.tensors = [.init(name: "blk.0.attn_q.weight.lora_a", dimensions: [576, 4], type: 0, data: float32Bytes([Float](repeating: 0.1, count: 2304)))]
        let path = write(builder.bytes(), named: "half.gguf", in: directory)
        #expect(throws: AdapterError.missingTensor("blk.0.attn_q.weight.lora_b")) { try LoRAAdapter.load(path: path, for: configuration) }
        builder.metadata[1] = ("adapter.type", .string("control_vector"))
        #expect(throws: AdapterError.unsupportedOption("adapter.type control_vector (only lora)")) {
            try LoRAAdapter.load(path: write(builder.bytes(), named: "cv.gguf", in: directory), for: configuration)
        }
        builder.metadata[1] = ("adapter.type", .string("lora"))
        builder.tensors.append(.init(name: "blk.0.attn_norm.weight", dimensions: [576], type: 0, data: float32Bytes([Float](repeating: 1, count: 576))))
        #expect(throws: AdapterError.unexpectedTensor("blk.0.attn_norm.weight")) {
            try LoRAAdapter.load(path: write(builder.bytes(), named: "norm.gguf", in: directory), for: configuration)
        }
    }
}
