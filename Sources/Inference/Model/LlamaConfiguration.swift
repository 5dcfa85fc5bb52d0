import Foundation

/// Shape and constants of a Llama-architecture model.
public struct LlamaConfiguration: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    /// Longest sequence the model was trained for, in tokens.
    public var contextLength: Int
    public var rmsNormEpsilon: Float
    /// Base of the rotary frequencies (`rope_theta`).
    public var ropeBase: Float
    public var ropeLayout: RopeLayout

    /// Which pairs of query/key components a rotary embedding rotates together.
    public enum RopeLayout: Sendable, Equatable {
        /// Components `2i` and `2i+1` (GGUF Llama files, whose Q/K rows the converter permuted).
        case interleaved
        /// Components `i` and `i + d/2` (Hugging Face `rotate_half`).
        case halves
    }

    /// Query heads sharing one key/value head.
    public var groupSize: Int { headCount / kvHeadCount }

    /// Checks that the numbers describe a buildable model.
    func validate() throws(ModelFileError) {
        let positive = [vocabularySize, hiddenSize, intermediateSize, layerCount, headCount, kvHeadCount, headDimension, contextLength]
        guard positive.allSatisfy({ $0 > 0 }) else { throw .malformed("model dimensions must be positive: \(self)") }
        guard headCount % kvHeadCount == 0 else { throw .malformed("\(headCount) heads do not divide into \(kvHeadCount) key/value heads") }
        guard headDimension % 2 == 0, headDimension % 8 == 0 else { throw .unsupported("head dimension \(headDimension) (must be a multiple of 8)") }
        guard rmsNormEpsilon > 0, rmsNormEpsilon.isFinite, ropeBase > 1, ropeBase.isFinite else {
            throw .malformed("rms_norm_eps \(rmsNormEpsilon) or rope_theta \(ropeBase) out of range")
        }
    }

    /// The configuration in a GGUF file's `llama.*` metadata.
    public init(gguf metadata: GGUFMetadata) throws(ModelFileError) {
        let architecture = try metadata.string("general.architecture")
        guard architecture == "llama" else { throw .unsupported("architecture '\(architecture)' (only llama)") }
        hiddenSize = try metadata.integer("llama.embedding_length")
        intermediateSize = try metadata.integer("llama.feed_forward_length")
        layerCount = try metadata.integer("llama.block_count")
        headCount = try metadata.integer("llama.attention.head_count")
        kvHeadCount = metadata["llama.attention.head_count_kv"] == nil ? headCount : try metadata.integer("llama.attention.head_count_kv")
        headDimension = metadata["llama.attention.key_length"] == nil
            ? (headCount > 0 ? hiddenSize / headCount : 0) : try metadata.integer("llama.attention.key_length")
        if metadata["llama.rope.dimension_count"] != nil, try metadata.integer("llama.rope.dimension_count") != headDimension {
            throw .unsupported("partial rotary embeddings (rope.dimension_count ≠ head dimension)")
        }
        if let scaling = metadata["llama.rope.scaling.type"]?.string, scaling != "none" {
            throw .unsupported("rope scaling '\(scaling)'")
        }
        contextLength = try metadata.integer("llama.context_length")
        rmsNormEpsilon = Float(try metadata.number("llama.attention.layer_norm_rms_epsilon"))
        ropeBase = metadata["llama.rope.freq_base"] == nil ? 10_000 : Float(try metadata.number("llama.rope.freq_base"))
        vocabularySize = metadata["llama.vocab_size"] == nil
            ? try metadata.stringArray("tokenizer.ggml.tokens").count : try metadata.integer("llama.vocab_size")
        ropeLayout = .interleaved
        try validate()
    }

    /// The configuration in a Hugging Face `config.json` of a `LlamaForCausalLM`.
    public init(huggingFaceConfig url: URL) throws(ModelFileError) {
        guard let data = try? Data(contentsOf: url), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .malformed("\(url.path) is not a JSON object")
        }
        func integer(_ key: String) throws(ModelFileError) -> Int {
            guard let value = json[key] as? Int else { throw .missing("config.json key \(key)") }
            return value
        }
        let architectures = json["architectures"] as? [String] ?? []
        guard architectures.contains("LlamaForCausalLM") || (json["model_type"] as? String) == "llama" else {
            throw .unsupported("Hugging Face model type \(architectures) (only LlamaForCausalLM)")
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) { throw .unsupported("rope_scaling in config.json") }
        vocabularySize = try integer("vocab_size")
        hiddenSize = try integer("hidden_size")
        intermediateSize = try integer("intermediate_size")
        layerCount = try integer("num_hidden_layers")
        headCount = try integer("num_attention_heads")
        kvHeadCount = (json["num_key_value_heads"] as? Int) ?? headCount
        headDimension = (json["head_dim"] as? Int) ?? (headCount > 0 ? hiddenSize / headCount : 0)
        contextLength = (json["max_position_embeddings"] as? Int) ?? 2048
        rmsNormEpsilon = Float((json["rms_norm_eps"] as? Double) ?? 1e-6)
        ropeBase = Float((json["rope_theta"] as? Double) ?? 10_000)
        ropeLayout = .halves
        try validate()
    }
}
