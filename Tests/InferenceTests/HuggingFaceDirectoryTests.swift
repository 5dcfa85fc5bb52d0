import Foundation
import Inference
import Testing

extension ModelTests {
    /// `--model DIR` for a Hugging Face checkpoint: the default GGUF is rewritten as one
    /// (float32 safetensors with Hugging Face names and Q/K rows in Hugging Face order,
    /// `config.json`, `tokenizer.json`, `tokenizer_config.json`) and must reproduce the
    /// reference like the GGUF does.
    @Suite struct HuggingFaceDirectoryTests {
        @Test func convertedCheckpointMatchesTheReference() throws {
            let gguf = try GGUFFile(path: DefaultModel.path)
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try HuggingFaceExport.write(gguf, to: directory)

            let model = try LlamaModel(path: directory.path)
            #expect(model.configuration.ropeLayout == .halves)
            #expect(model.chatTemplate == (try DefaultModel.model()).chatTemplate)
            for prompt in Expected.shared.prompts {
                #expect(model.tokenizer.encode(prompt.text) == prompt.tokenIds)
            }
            let engine = InferenceEngine(model: model, threads: 2)
            for index in [0, 3, 5] {
                let prompt = Expected.shared.prompts[index]
                let cache = engine.makeCache()
                var logits = try engine.evaluate([(cache, prompt.tokenIds)])[0]
                #expect(maxAbsoluteDifference(logits, Fixtures.referenceLogits("base.p\(index).logits_last")) < 1e-2)
                var generated: [Int32] = []
                for _ in 0..<Expected.shared.newTokens {
                    generated.append(argmax(logits))
                    logits = try engine.evaluate([(cache, [generated.last!])])[0]
                }
                #expect(generated == Expected.shared.baseGreedy(index), "prompt \(index)")
            }
        }
    }
}

/// Rewrites a Llama GGUF as a Hugging Face checkpoint directory.
enum HuggingFaceExport {
    static func write(_ gguf: GGUFFile, to directory: URL) throws {
        let m = gguf.metadata
        let heads = try m.integer("llama.attention.head_count"), kvHeads = try m.integer("llama.attention.head_count_kv")
        let config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": try m.integer("llama.embedding_length"), "intermediate_size": try m.integer("llama.feed_forward_length"),
            "num_hidden_layers": try m.integer("llama.block_count"), "num_attention_heads": heads, "num_key_value_heads": kvHeads,
            "vocab_size": try m.integer("llama.vocab_size"), "max_position_embeddings": try m.integer("llama.context_length"),
            "rms_norm_eps": try m.number("llama.attention.layer_norm_rms_epsilon"), "rope_theta": try m.number("llama.rope.freq_base"),
            "tie_word_embeddings": true,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))

        var tensors = SafetensorsBuilder()
        let names = ["attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                     "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
                     "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"]
        for tensor in gguf.tensors {
            var values = tensor.floats()
            let name: String
            switch tensor.name {
            case "token_embd.weight": name = "model.embed_tokens.weight"
            case "output_norm.weight": name = "model.norm.weight"
            default:
                let parts = tensor.name.split(separator: ".")
                name = "model.layers.\(parts[1]).\(names[String(parts[2])]!).weight"
                if parts[2] == "attn_q" || parts[2] == "attn_k" {
                    values = unpermute(values, heads: parts[2] == "attn_q" ? heads : kvHeads, columns: tensor.shape[1])
                }
            }
            tensors.tensors.append((name, "F32", tensor.shape, float32Bytes(values)))
        }
        try Data(tensors.bytes()).write(to: directory.appendingPathComponent("model.safetensors"))

        let vocabulary = try m.stringArray("tokenizer.ggml.tokens")
        let types = try m.integerArray("tokenizer.ggml.token_type")
        let added = vocabulary.indices.filter { types[$0] == 3 }.map { ["id": $0, "content": vocabulary[$0], "special": true] as [String: Any] }
        let tokenizer: [String: Any] = [
            "added_tokens": added,
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "Digits", "individual_digits": true],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            ]],
            "model": ["type": "BPE", "vocab": Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) }),
                      "merges": try m.stringArray("tokenizer.ggml.merges")],
        ]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: directory.appendingPathComponent("tokenizer.json"))
        let tokenizerConfig: [String: Any] = [
            "bos_token": vocabulary[try m.integer("tokenizer.ggml.bos_token_id")],
            "eos_token": vocabulary[try m.integer("tokenizer.ggml.eos_token_id")],
            "add_bos_token": false, "chat_template": try m.string("tokenizer.chat_template"),
        ]
        try JSONSerialization.data(withJSONObject: tokenizerConfig).write(to: directory.appendingPathComponent("tokenizer_config.json"))
    }

    /// Undoes llama.cpp's converter, which reorders each head's rows from Hugging Face's
    /// halves `(i, j)` (i < 2, j < d/2) to interleaved pairs `(j, i)`.
    static func unpermute(_ values: [Float], heads: Int, columns: Int) -> [Float] {
        let rows = values.count / columns, d = rows / heads
        var out = values
        for head in 0..<heads {
            for i in 0..<2 {
                for j in 0..<(d / 2) {
                    let hf = head * d + i * (d / 2) + j, gguf = head * d + 2 * j + i
                    out[(hf * columns)..<((hf + 1) * columns)] = values[(gguf * columns)..<((gguf + 1) * columns)]
                }
            }
        }
        return out
    }
}
