import Foundation

extension LoRAAdapter {
    /// Writes the adapter as a PEFT directory (`adapter_config.json` +
    /// `adapter_model.safetensors` with tensors of `type`: F32, F16 or BF16). `load` reads it
    /// back with the same id when every value fits `type` exactly (always for F32).
    public func writePEFT(to directory: String, type: TensorType = .f32) throws(AdapterError) {
        try PEFTWriter.write(pairs(), configuration: configuration, to: directory, type: type)
    }

    /// Writes the adapter as a llama.cpp GGUF LoRA file with tensors of `type` (F32, F16 or
    /// BF16); the id is kept as for `writePEFT`. llama.cpp has one alpha per file, so
    /// `scale · rank` must be the same for every pair.
    public func writeGGUF(to path: String, type: TensorType = .f32) throws(AdapterError) {
        try GGUFAdapterWriter.write(pairs(), name: name, configuration: configuration, to: path, type: type)
    }
}

/// Writes LoRA pairs as a PEFT adapter directory.
public enum PEFTWriter {
    /// Writes `pairs` (B rows in Hugging Face order) for a model of shape `configuration`.
    /// The config lists module names and `layers_to_transform` when the pairs cover every
    /// listed module in every listed layer, else each module's full path; ranks and alphas
    /// that differ from the first pair's go into `rank_pattern` / `alpha_pattern`. Tensors are
    /// `type` (F32, F16 or BF16, rounded to nearest even).
    public static func write(_ pairs: [LoRAPair], configuration c: LlamaConfiguration, to directory: String, type: TensorType = .f32) throws(AdapterError) {
        let pairs = try checked(pairs, configuration: c)
        guard [.f32, .f16, .bf16].contains(type) else { throw .notRepresentable("PEFT tensors of type \(type) (F32, F16 or BF16)") }
        func alpha(_ pair: LoRAPair) -> Double { Double(pair.scale) * Double(pair.rank) }
        func path(_ pair: LoRAPair) -> String { PEFTReader.ModulePath(layer: pair.layer, projection: pair.projection).name }
        let first = pairs[0]
        let layers = Set(pairs.map(\.layer)), modules = Set(pairs.map(\.projection))
        var config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "inference_mode": true, "bias": "none", "use_dora": false,
            "fan_in_fan_out": false, "use_rslora": false, "modules_to_save": NSNull(), "lora_dropout": 0.0,
            "r": first.rank, "lora_alpha": alpha(first),
        ]
        if pairs.count == layers.count * modules.count {
            config["target_modules"] = Projection.allCases.filter(modules.contains).map(\.rawValue)
            config["layers_to_transform"] = layers.count == c.layerCount ? NSNull() : layers.sorted() as Any
        } else {
            config["target_modules"] = pairs.map(path)
            config["layers_to_transform"] = NSNull()
        }
        config["rank_pattern"] = Dictionary(uniqueKeysWithValues: pairs.filter { $0.rank != first.rank }.map { (path($0), $0.rank) })
        config["alpha_pattern"] = Dictionary(uniqueKeysWithValues: pairs.filter { alpha($0) != alpha(first) }.map { (path($0), alpha($0)) })

        try createDirectory(directory)
        let folder = URL(fileURLWithPath: directory)
        let json: Data
        do { json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]) } catch {
            throw .writeFailed(path: directory, reason: error.localizedDescription)
        }
        var tensors: [SafetensorsWriter.Tensor] = []
        for pair in pairs {
            let prefix = "base_model.model.\(path(pair))"
            let (inputs, outputs) = pair.projection.shape(c)
            tensors.append(.init(name: "\(prefix).lora_A.weight", shape: [pair.rank, inputs], values: pair.a))
            tensors.append(.init(name: "\(prefix).lora_B.weight", shape: [outputs, pair.rank], values: pair.b))
        }
        // Each file whole or not at all (`DurableFile`), the weights before the config that
        // describes them.
        try SafetensorsWriter.write(tensors, type: type, metadata: ["format": "pt"], to: folder.appendingPathComponent(PEFTReader.weightsName).path)
        try json.withUnsafeBytes { raw in Result { () throws(AdapterError) in try DurableFile.replace(folder.appendingPathComponent(PEFTReader.configName).path, with: raw) } }.get()
    }

    /// Writes `values` little-endian as `type` (F32, F16 or BF16, rounded to nearest even).
    static func write(_ values: [Float], as type: TensorType, named name: String, to sink: FileSink) throws(AdapterError) {
        guard type != .f32 else { return try sink.write(floats: values) }
        var bits = [UInt16](repeating: 0, count: values.count)
        for (index, value) in values.enumerated() {
            if type == .f16 {
                bits[index] = Float16(value).bitPattern
            } else {
                let pattern = value.bitPattern
                bits[index] = UInt16((pattern &+ 0x7FFF &+ ((pattern >> 16) & 1)) >> 16)
            }
            // An exponent of all ones: the value overflowed the narrower type.
            let overflowed = type == .f16 ? bits[index] & 0x7C00 == 0x7C00 : bits[index] & 0x7F80 == 0x7F80
            guard !overflowed else { throw .notRepresentable("value \(value) of \(name) does not fit \(type)") }
        }
        try sink.write(bits.withUnsafeBytes { Array($0) })
    }

    /// `pairs` sorted into canonical order, after checking shapes, ranks, layers and values.
    static func checked(_ pairs: [LoRAPair], configuration c: LlamaConfiguration) throws(AdapterError) -> [LoRAPair] {
        guard !pairs.isEmpty else { throw .missingTensor("any lora_A/lora_B pair (the adapter is empty)") }
        let sorted = pairs.sorted { ($0.layer, $0.projection.index) < ($1.layer, $1.projection.index) }
        for (index, pair) in sorted.enumerated() {
            let label = "\(pair.projection.rawValue) of layer \(pair.layer)"
            guard (0..<c.layerCount).contains(pair.layer) else { throw .layerOutOfRange(pair.layer, layerCount: c.layerCount) }
            if index > 0, sorted[index - 1].layer == pair.layer, sorted[index - 1].projection == pair.projection {
                throw .unexpectedTensor("a second pair for \(label)")
            }
            let (inputs, outputs) = pair.projection.shape(c)
            guard pair.rank >= 1, pair.a.count == pair.rank * inputs else { throw .shapeMismatch(tensor: "A of \(label)", shape: [pair.a.count], expected: [pair.rank, inputs]) }
            guard pair.b.count == outputs * pair.rank else { throw .shapeMismatch(tensor: "B of \(label)", shape: [pair.b.count], expected: [outputs, pair.rank]) }
            guard pair.scale.isFinite else { throw .badConfig("scale \(pair.scale) of \(label) is not finite") }
            let finite = pair.a.withUnsafeBufferPointer { AdapterBuilder.allFinite($0.baseAddress!, count: $0.count) }
                && pair.b.withUnsafeBufferPointer { AdapterBuilder.allFinite($0.baseAddress!, count: $0.count) }
            guard finite else { throw .nonFiniteWeights("A or B of \(label)") }
        }
        return sorted
    }
}

/// Writes LoRA pairs as a llama.cpp GGUF LoRA adapter (version 3).
public enum GGUFAdapterWriter {
    static let alignment = 32

    /// Writes `pairs` (B rows in Hugging Face order; query/key rows are permuted to GGUF's
    /// order) with tensors of `type` (F32, F16 or BF16).
    public static func write(_ pairs: [LoRAPair], name: String, configuration c: LlamaConfiguration, to path: String, type: TensorType = .f32) throws(AdapterError) {
        let pairs = try PEFTWriter.checked(pairs, configuration: c)
        guard [.f32, .f16, .bf16].contains(type) else { throw .notRepresentable("GGUF adapter tensors of type \(type) (F32, F16 or BF16)") }
        let width = type == .f32 ? 4 : 2
        let alpha = Float(Double(pairs[0].scale) * Double(pairs[0].rank))
        for pair in pairs where alpha == 0 || alpha / Float(pair.rank) != pair.scale {
            throw .notRepresentable("llama.cpp applies alpha / rank with one alpha per file; \(pair.projection.rawValue) of layer \(pair.layer) has scale \(pair.scale) at rank \(pair.rank), the first pair \(pairs[0].scale) at rank \(pairs[0].rank)")
        }
        var tensors: [(name: String, dimensions: [Int], values: [Float])] = []
        for pair in pairs {
            let (inputs, outputs) = pair.projection.shape(c)
            var b = pair.b
            for row in 0..<outputs {
                let from = RowOrder.interleaved.row(row, from: .huggingFace, projection: pair.projection, headDimension: c.headDimension)
                for k in 0..<pair.rank { b[row * pair.rank + k] = pair.b[from * pair.rank + k] }
            }
            let base = "blk.\(pair.layer).\(pair.projection.ggufName).weight"
            tensors.append(("\(base).lora_a", [inputs, pair.rank], pair.a))
            tensors.append(("\(base).lora_b", [pair.rank, outputs], b))
        }

        var header: [UInt8] = Array("GGUF".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { header += $0 } }
        func append(_ string: String) { append(UInt64(string.utf8.count)); header += Array(string.utf8) }
        append(UInt32(3))
        append(UInt64(tensors.count))
        let strings = [("general.architecture", "llama"), ("general.type", "adapter"), ("general.name", name), ("adapter.type", "lora")]
        append(UInt64(strings.count + 1))
        for (key, value) in strings { append(key); append(UInt32(8)); append(value) }
        append("adapter.lora.alpha"); append(UInt32(6)); append(alpha.bitPattern)
        var offset = 0
        for tensor in tensors {
            append(tensor.name)
            append(UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { append(UInt64(dimension)) }
            append(type.rawValue)
            append(UInt64(offset))
            offset += padded(width * tensor.values.count)
        }
        header += [UInt8](repeating: 0, count: padded(header.count) - header.count)
        try DurableFile.replace(path) { (file: FileSink) throws(AdapterError) in
            try file.write(header)
            for tensor in tensors {
                try PEFTWriter.write(tensor.values, as: type, named: tensor.name, to: file)
                try file.write([UInt8](repeating: 0, count: padded(width * tensor.values.count) - width * tensor.values.count))
            }
        }
    }

    private static func padded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }
}
