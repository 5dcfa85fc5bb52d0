/// Reads a llama.cpp LoRA adapter (what `convert_lora_to_gguf.py` writes): metadata
/// `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha` (f32; 0 or absent
/// means scale 1), and per projection `blk.N.attn_q.weight.lora_a` (GGUF dimensions
/// `[in, r]`, i.e. `[r, in]` row-major) and `.lora_b` (`[r, out]`, i.e. `[out, r]`). As in
/// llama.cpp the scale is `alpha / r` with `r` the rank of each pair, and the query/key
/// rows of `B` are in GGUF's interleaved order, like the base model's.
enum GGUFAdapterReader {
    static func sources(path: String) throws(AdapterError) -> [TargetSource] {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw .file(error) }
        let metadata = file.metadata
        guard let type = metadata["general.type"]?.string, type == "adapter" else {
            throw .notAnAdapter("\(path) has general.type \(metadata["general.type"]?.string ?? "unset"), not adapter")
        }
        if let architecture = metadata["general.architecture"]?.string, architecture != "llama" {
            throw .configurationMismatch("the adapter is for architecture \(architecture), the engine runs llama")
        }
        guard let adapterType = metadata["adapter.type"]?.string, adapterType == "lora" else {
            throw .unsupportedOption("adapter.type \(metadata["adapter.type"]?.string ?? "unset") (only lora)")
        }
        if metadata["adapter.alora.invocation_tokens"] != nil { throw .unsupportedOption("activated LoRA (adapter.alora.invocation_tokens)") }
        var alpha: Float = 0
        if let value = metadata["adapter.lora.alpha"] {
            guard let number = value.number, number.isFinite else { throw .badConfig("adapter.lora.alpha is not a number") }
            alpha = Float(number)
        }

        var factors: [String: (a: TensorData?, b: TensorData?)] = [:]
        for tensor in file.tensors {
            if tensor.name.hasSuffix(".lora_a") {
                factors[String(tensor.name.dropLast(7)), default: (nil, nil)].a = tensor
            } else if tensor.name.hasSuffix(".lora_b") {
                factors[String(tensor.name.dropLast(7)), default: (nil, nil)].b = tensor
            } else {
                throw .unexpectedTensor(tensor.name)
            }
        }
        var sources: [TargetSource] = []
        for (base, pair) in factors.sorted(by: { $0.key < $1.key }) {
            guard let (layer, projection) = parse(base) else { throw .unexpectedTensor("\(base).lora_a/.lora_b") }
            guard let a = pair.a else { throw .missingTensor("\(base).lora_a") }
            guard let b = pair.b else { throw .missingTensor("\(base).lora_b") }
            guard a.shape.count == 2 else { throw .shapeMismatch(tensor: a.name, shape: a.shape, expected: [0, 0]) }
            let rank = a.shape[0]
            let scale = alpha == 0 ? 1 : alpha / Float(rank)
            sources.append(TargetSource(layer: layer, projection: projection, rank: rank, scale: scale, a: a, b: b, rowOrder: .interleaved))
        }
        return sources
    }

    /// `blk.N.<attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down>.weight`.
    static func parse(_ name: String) -> (layer: Int, projection: Projection)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", parts[3] == "weight", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
              let projection = Projection.allCases.first(where: { $0.ggufName == parts[2] })
        else { return nil }
        return (layer, projection)
    }
}

extension Projection {
    /// The GGUF tensor name of this projection's weight (`blk.N.<name>.weight`).
    var ggufName: String {
        switch self {
        case .query: "attn_q"
        case .key: "attn_k"
        case .value: "attn_v"
        case .output: "attn_output"
        case .gate: "ffn_gate"
        case .up: "ffn_up"
        case .down: "ffn_down"
        }
    }
}
