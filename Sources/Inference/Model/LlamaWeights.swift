import Foundation

/// The tensors of one transformer block.
public struct LlamaLayerWeights: Sendable {
    public let attentionNorm: [Float]
    public let query: WeightMatrix
    public let key: WeightMatrix
    public let value: WeightMatrix
    public let output: WeightMatrix
    public let feedForwardNorm: [Float]
    public let gate: WeightMatrix
    public let up: WeightMatrix
    public let down: WeightMatrix
}

/// The seven linear maps of a block, named as PEFT's `target_modules` name them.
public enum Projection: String, Sendable, CaseIterable {
    case query = "q_proj", key = "k_proj", value = "v_proj", output = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"
}

extension LlamaWeights {
    /// Every matrix the forward pass multiplies with: each block's projections, then the head.
    public var matrices: [WeightMatrix] {
        layers.flatMap { layer in Projection.allCases.map(layer.matrix) } + [head]
    }
}

extension LlamaLayerWeights {
    /// The weight matrix of `projection`.
    public func matrix(_ projection: Projection) -> WeightMatrix {
        switch projection {
        case .query: query
        case .key: key
        case .value: value
        case .output: output
        case .gate: gate
        case .up: up
        case .down: down
        }
    }
}

/// All weights of a Llama model, used in place from their files.
public struct LlamaWeights: Sendable {
    public let embedding: WeightMatrix
    public let layers: [LlamaLayerWeights]
    public let outputNorm: [Float]
    /// The language-model head; the embedding matrix itself when the model ties them.
    public let head: WeightMatrix

    /// Reads weights named as in GGUF (`token_embd`, `blk.N.attn_q`, …).
    init(gguf file: GGUFFile, configuration: LlamaConfiguration) throws(ModelFileError) {
        guard file.tensor("rope_freqs.weight") == nil else { throw .unsupported("per-dimension rope frequencies (rope_freqs.weight)") }
        try self.init(configuration: configuration) { name throws(ModelFileError) in
            let ggufName = switch name {
            case .embedding: "token_embd.weight"
            case .outputNorm: "output_norm.weight"
            case .head: "output.weight"
            case let .layer(index, part): "blk.\(index).\(part.ggufName).weight"
            }
            return file.tensor(ggufName)
        }
    }

    /// Reads weights named as in Hugging Face checkpoints (`model.layers.N.self_attn.q_proj`, …)
    /// from one or more safetensors files.
    init(safetensors files: [SafetensorsFile], configuration: LlamaConfiguration) throws(ModelFileError) {
        try self.init(configuration: configuration) { name throws(ModelFileError) in
            let hfName = switch name {
            case .embedding: "model.embed_tokens.weight"
            case .outputNorm: "model.norm.weight"
            case .head: "lm_head.weight"
            case let .layer(index, part): "model.layers.\(index).\(part.huggingFaceName).weight"
            }
            return files.lazy.compactMap { $0.tensor(hfName) }.first
        }
    }

    enum TensorName {
        case embedding, outputNorm, head
        case layer(Int, LayerPart)
    }

    enum LayerPart: CaseIterable {
        case attentionNorm, query, key, value, output, feedForwardNorm, gate, up, down

        var ggufName: String {
            switch self {
            case .attentionNorm: "attn_norm"
            case .query: "attn_q"
            case .key: "attn_k"
            case .value: "attn_v"
            case .output: "attn_output"
            case .feedForwardNorm: "ffn_norm"
            case .gate: "ffn_gate"
            case .up: "ffn_up"
            case .down: "ffn_down"
            }
        }

        var huggingFaceName: String {
            switch self {
            case .attentionNorm: "input_layernorm"
            case .query: "self_attn.q_proj"
            case .key: "self_attn.k_proj"
            case .value: "self_attn.v_proj"
            case .output: "self_attn.o_proj"
            case .feedForwardNorm: "post_attention_layernorm"
            case .gate: "mlp.gate_proj"
            case .up: "mlp.up_proj"
            case .down: "mlp.down_proj"
            }
        }
    }

    private init(configuration c: LlamaConfiguration, lookup: (TensorName) throws(ModelFileError) -> TensorData?) throws(ModelFileError) {
        func tensor(_ name: TensorName, _ label: String) throws(ModelFileError) -> TensorData {
            guard let tensor = try lookup(name) else { throw .missing("tensor \(label)") }
            return tensor
        }
        func matrix(_ name: TensorName, _ label: String, rows: Int, columns: Int) throws(ModelFileError) -> WeightMatrix {
            let data = try tensor(name, label)
            guard data.shape == [rows, columns] else { throw .malformed("tensor \(data.name) has shape \(data.shape), expected [\(rows), \(columns)]") }
            return try WeightMatrix(data)
        }
        func vector(_ name: TensorName, _ label: String, count: Int) throws(ModelFileError) -> [Float] {
            let data = try tensor(name, label)
            guard data.elementCount == count, data.shape.count == 1 else { throw .malformed("tensor \(data.name) has shape \(data.shape), expected [\(count)]") }
            return data.floats()
        }
        let attention = c.headCount * c.headDimension, kv = c.kvHeadCount * c.headDimension
        embedding = try matrix(.embedding, "embedding", rows: c.vocabularySize, columns: c.hiddenSize)
        var layers: [LlamaLayerWeights] = []
        for index in 0..<c.layerCount {
            func part(_ part: LayerPart, rows: Int, columns: Int) throws(ModelFileError) -> WeightMatrix {
                try matrix(.layer(index, part), "\(part) of layer \(index)", rows: rows, columns: columns)
            }
            layers.append(LlamaLayerWeights(
                attentionNorm: try vector(.layer(index, .attentionNorm), "attention norm of layer \(index)", count: c.hiddenSize),
                query: try part(.query, rows: attention, columns: c.hiddenSize),
                key: try part(.key, rows: kv, columns: c.hiddenSize),
                value: try part(.value, rows: kv, columns: c.hiddenSize),
                output: try part(.output, rows: c.hiddenSize, columns: attention),
                feedForwardNorm: try vector(.layer(index, .feedForwardNorm), "feed-forward norm of layer \(index)", count: c.hiddenSize),
                gate: try part(.gate, rows: c.intermediateSize, columns: c.hiddenSize),
                up: try part(.up, rows: c.intermediateSize, columns: c.hiddenSize),
                down: try part(.down, rows: c.hiddenSize, columns: c.intermediateSize)))
        }
        self.layers = layers
        outputNorm = try vector(.outputNorm, "output norm", count: c.hiddenSize)
        head = try lookup(.head) == nil ? embedding : try matrix(.head, "output head", rows: c.vocabularySize, columns: c.hiddenSize)
    }
}
