import CSodium
import Foundation
import Inference
import Testing

/// Reading, identifying and writing adapters (no forward passes).
@Suite struct LoRAAdapterTests {
    @Test func fixtureAdaptersLoadWithTheirTargetsRanksAndScales() throws {
        let expected: [String: (targets: Int, rank: Int, scale: Float, projections: Set<Projection>)] = [
            "qv-r8": (60, 8, 16.0 / 8, [.query, .value]),
            "all-r16": (210, 16, 32.0 / 16, Set(Projection.allCases)),
            "mlp-r4-rslora": (90, 4, 8.0 / 2, [.gate, .up, .down]),
        ]
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try AdapterFixtures.materialize(into: directory)
        var ids = Set<String>()
        for name in AdapterFixtures.names {
            let adapter = try AdapterFixtures.adapter(name)
            let want = expected[name]!
            #expect(adapter.name == name)
            #expect(adapter.targets.count == want.targets)
            #expect(adapter.targets.allSatisfy { $0.rank == want.rank && $0.scale == want.scale })
            #expect(Set(adapter.targets.map(\.projection)) == want.projections)
            #expect(adapter.id.count == 64 && adapter.id.allSatisfy { "0123456789abcdef".contains($0) })
            ids.insert(adapter.id)
            // Resident bytes are exactly the float32 tensor bytes of the file.
            let file = try SafetensorsFile(path: directory.appendingPathComponent(name).appendingPathComponent("adapter_model.safetensors").path)
            #expect(adapter.byteCount == file.tensors.reduce(0) { $0 + $1.bytes.count })
        }
        #expect(ids.count == 3)
    }

    /// The id is BLAKE2b-256 of the canonical content exactly as docs/lora.md defines it,
    /// recomputed here from the adapter's pairs.
    @Test func idIsTheHashOfTheDocumentedCanonicalContent() throws {
        for name in ["qv-r8", "mlp-r4-rslora"] {
            let adapter = try AdapterFixtures.adapter(name)
            var bytes = Array("TRIBUTARY-LORA-1".utf8)
            func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
            append(UInt32(adapter.targets.count))
            for (target, pair) in zip(adapter.targets, adapter.pairs()) {
                append(UInt32(target.layer))
                append(UInt32(Projection.allCases.firstIndex(of: target.projection)!))
                for value in [target.rank, target.inputs, target.outputs] { append(UInt32(value)) }
                append(target.scale.bitPattern)
                for value in pair.a + pair.b { append(value.bitPattern) }
            }
            var digest = [UInt8](repeating: 0, count: 32)
            #expect(sodium_init() >= 0)
            _ = crypto_generichash(&digest, 32, bytes, UInt64(bytes.count), nil, 0)
            #expect(adapter.id == digest.map { String(format: "%02x", $0) }.joined(), "\(name)")
        }
    }

    @Test func peftAndGGUFFormsHaveTheSameIdAndFactors() throws {
        let configuration = try DefaultModel.model().configuration
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in AdapterFixtures.names {
            let adapter = try AdapterFixtures.adapter(name)
            let ggufPath = directory.appendingPathComponent("\(name).gguf").path
            try adapter.writeGGUF(to: ggufPath)
            let fromGGUF = try LoRAAdapter.load(path: ggufPath, for: configuration)
            #expect(fromGGUF.id == adapter.id, "\(name)")
            #expect(fromGGUF.targets == adapter.targets)
            #expect(fromGGUF.pairs() == adapter.pairs())

            let peftPath = directory.appendingPathComponent(name).path
            try adapter.writePEFT(to: peftPath)
            #expect(try LoRAAdapter.load(path: peftPath, for: configuration).id == adapter.id, "\(name)")
        }
    }

    /// The GGUF file is laid out as llama.cpp's converter writes it: metadata, `[in, r]` /
    /// `[r, out]` dimensions, and query/key rows of B permuted like the base's.
    @Test func ggufAdapterFollowsLlamaCppConventions() throws {
        let adapter = try AdapterFixtures.adapter("qv-r8")
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("qv.gguf").path
        try adapter.writeGGUF(to: path)
        let file = try GGUFFile(path: path)
        #expect(try file.metadata.string("general.type") == "adapter")
        #expect(try file.metadata.string("adapter.type") == "lora")
        #expect(try file.metadata.string("general.architecture") == "llama")
        #expect(try file.metadata.number("adapter.lora.alpha") == 16)
        let a = try #require(file.tensor("blk.3.attn_q.weight.lora_a")), b = try #require(file.tensor("blk.3.attn_q.weight.lora_b"))
        #expect(a.shape == [8, 576] && b.shape == [576, 8])
        let pair = adapter.pairs().first { $0.layer == 3 && $0.projection == .query }!
        #expect(a.floats() == pair.a)
        // GGUF row 2i + j of head h is Hugging Face row j·32 + i of that head (head dimension 64).
        let ggufB = b.floats()
        for (ggufRow, hfRow) in [(0, 0), (1, 32), (2, 1), (63, 63), (64 + 5, 64 + 32 + 2)] {
            #expect(Array(ggufB[(ggufRow * 8)..<(ggufRow * 8 + 8)]) == Array(pair.b[(hfRow * 8)..<(hfRow * 8 + 8)]))
        }
        #expect(try #require(file.tensor("blk.3.attn_v.weight.lora_b")).floats() == adapter.pairs().first { $0.layer == 3 && $0.projection == .value }!.b)
    }

    @Test func idDependsOnEveryValueButNotOnOrderOrBaseLayout() throws {
        let configuration = try DefaultModel.model().configuration
        let pairs = randomPairs(configuration: configuration, layers: [0, 7], projections: [.key, .down], rank: 3, seed: 1)
        let id = try LoRAAdapter.make(name: "x", configuration: configuration, pairs: pairs).id
        #expect(try LoRAAdapter.make(name: "y", configuration: configuration, pairs: pairs.reversed()).id == id)
        var changed = pairs
        changed[3].b[17] = changed[3].b[17].nextUp
        #expect(try LoRAAdapter.make(name: "x", configuration: configuration, pairs: changed).id != id)
        changed = pairs
        changed[0].scale = 2.5
        #expect(try LoRAAdapter.make(name: "x", configuration: configuration, pairs: changed).id != id)
        var halves = configuration
        halves.ropeLayout = .halves
        let other = try LoRAAdapter.make(name: "x", configuration: halves, pairs: pairs)
        #expect(other.id == id && other.pairs() == pairs)
    }

    @Test func peftPatternsLayersAndRsLoRAAreHonoured() throws {
        let configuration = try DefaultModel.model().configuration
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Mixed ranks and scales: the writer puts the differences into rank_pattern / alpha_pattern.
        var pairs = randomPairs(configuration: configuration, layers: [2, 5], projections: [.query, .up], rank: 4, seed: 2)
        pairs += randomPairs(configuration: configuration, layers: [9], projections: [.output], rank: 6, scale: 0.75, seed: 3)
        let mixed = directory.appendingPathComponent("mixed")
        try PEFTWriter.write(pairs, configuration: configuration, to: mixed.path)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: mixed.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect((config["rank_pattern"] as! [String: Int]) == ["model.layers.9.self_attn.o_proj": 6])
        let loaded = try LoRAAdapter.load(path: mixed.path, for: configuration)
        #expect(loaded.target(layer: 9, projection: .output)?.rank == 6)
        #expect(loaded.target(layer: 9, projection: .output)?.scale == 0.75)
        #expect(loaded.target(layer: 5, projection: .up)?.scale == 2)
        #expect(loaded.id == (try LoRAAdapter.make(name: "m", configuration: configuration, pairs: pairs).id))

        // A product of layers and modules is written as module names + layers_to_transform.
        let product = directory.appendingPathComponent("product")
        try PEFTWriter.write(randomPairs(configuration: configuration, layers: [1, 4], projections: [.value, .gate], rank: 4, scale: 2, seed: 4),
                             configuration: configuration, to: product.path)
        let productConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: product.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(productConfig["layers_to_transform"] as? [Int] == [1, 4])
        #expect(productConfig["target_modules"] as? [String] == ["v_proj", "gate_proj"])
        #expect(Set(try LoRAAdapter.load(path: product.path, for: configuration).targets.map(\.layer)) == [1, 4])
        // rsLoRA: alpha / √r instead of alpha / r (alpha 8, r 4).
        try editConfig(product) { $0["use_rslora"] = true }
        #expect(try LoRAAdapter.load(path: product.path, for: configuration).targets.allSatisfy { $0.scale == 4 })
        // alpha_pattern by module name for every layer.
        try editConfig(product) { $0["alpha_pattern"] = ["gate_proj": 2] }
        let patterned = try LoRAAdapter.load(path: product.path, for: configuration)
        #expect(patterned.target(layer: 4, projection: .gate)?.scale == 1 && patterned.target(layer: 4, projection: .value)?.scale == 4)
    }

    /// F16 and BF16 adapters stay 16-bit in memory (resident bytes = tensor bytes) with the
    /// values and id of the same adapter in float32.
    @Test func halfPrecisionAdaptersKeepTheirBytesAndValues() throws {
        let configuration = try DefaultModel.model().configuration
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pairs = randomPairs(configuration: configuration, layers: [0, 3, 29], projections: [.query, .key, .down], rank: 5, seed: 11)
        for type in [TensorType.f16, .bf16] {
            let path = directory.appendingPathComponent("\(type)").path
            try PEFTWriter.write(pairs, configuration: configuration, to: path, type: type)
            let adapter = try LoRAAdapter.load(path: path, for: configuration)
            let file = try SafetensorsFile(path: path + "/adapter_model.safetensors")
            #expect(file.tensors.allSatisfy { $0.type == type })
            #expect(adapter.byteCount == file.tensors.reduce(0) { $0 + $1.bytes.count })
            let rounded = adapter.pairs()
            #expect(rounded != pairs && zip(rounded, pairs).allSatisfy { zip($0.a, $1.a).allSatisfy { abs($0 - $1) < 1e-3 } })
            let wide = try LoRAAdapter.make(name: "wide", configuration: configuration, pairs: rounded)
            #expect(wide.id == adapter.id && wide.byteCount == 2 * adapter.byteCount)
            let gguf = directory.appendingPathComponent("\(type).gguf").path
            try adapter.writeGGUF(to: gguf, type: type)
            let fromGGUF = try LoRAAdapter.load(path: gguf, for: configuration)
            #expect(fromGGUF.id == adapter.id && fromGGUF.byteCount == adapter.byteCount && fromGGUF.pairs() == rounded)
        }
        var huge = pairs
        huge[0].a[0] = 1e6
        #expect(throws: AdapterError.notRepresentable("value 1000000.0 of base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight does not fit F16")) {
            try PEFTWriter.write(huge, configuration: configuration, to: directory.appendingPathComponent("huge").path, type: .f16)
        }
    }

    @Test func writersRefuseWhatTheFormatCannotHold() throws {
        let configuration = try DefaultModel.model().configuration
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var pairs = randomPairs(configuration: configuration, layers: [0, 1], projections: [.query], rank: 4, seed: 5)
        pairs[1].scale = 1
        #expect(throws: AdapterError.self) { try GGUFAdapterWriter.write(pairs, name: "x", configuration: configuration, to: directory.appendingPathComponent("x.gguf").path) }
        pairs[1].a[0] = .nan
        #expect(throws: AdapterError.nonFiniteWeights("A or B of q_proj of layer 1")) {
            try PEFTWriter.write(pairs, configuration: configuration, to: directory.appendingPathComponent("nan").path)
        }
        #expect(throws: AdapterError.layerOutOfRange(30, layerCount: 30)) {
            try LoRAAdapter.make(name: "x", configuration: configuration, pairs: randomPairs(configuration: configuration, layers: [30], projections: [.up], rank: 2, seed: 6))
        }
    }
}
