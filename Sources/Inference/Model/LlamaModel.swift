import Foundation

/// A loaded model: configuration, weights (mapped, not copied), tokenizer and chat format.
public struct LlamaModel: Sendable {
    /// The model's shape.
    public let configuration: LlamaConfiguration
    /// Every weight, quantized ones in the engine's layout.
    public let weights: LlamaWeights
    /// The model's own tokenizer.
    public let tokenizer: BPETokenizer
    /// The chat format, when the model's template is one this engine renders.
    public let chatTemplate: ChatTemplate?
    /// Where the model was loaded from.
    public let path: String

    /// Loads a GGUF file, or a Hugging Face directory holding `config.json`,
    /// `*.safetensors` and `tokenizer.json`.
    public init(path: String) throws(ModelFileError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        self.path = path
        if isDirectory.boolValue {
            let directory = URL(fileURLWithPath: path)
            configuration = try LlamaConfiguration(huggingFaceConfig: directory.appendingPathComponent("config.json"))
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                throw .unreadable(path: path, reason: error.localizedDescription)
            }
            let shards = names.filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !shards.isEmpty else { throw .missing("*.safetensors in \(path)") }
            var files: [SafetensorsFile] = []
            for shard in shards { files.append(try SafetensorsFile(path: directory.appendingPathComponent(shard).path)) }
            weights = try LlamaWeights(safetensors: files, configuration: configuration)
            tokenizer = try BPETokenizer(huggingFaceDirectory: directory)
            chatTemplate = Self.huggingFaceChatTemplate(directory).flatMap(ChatTemplate.init(jinja:))
        } else {
            let file = try GGUFFile(path: path)
            configuration = try LlamaConfiguration(gguf: file.metadata)
            weights = try LlamaWeights(gguf: file, configuration: configuration)
            tokenizer = try BPETokenizer(gguf: file.metadata)
            chatTemplate = file.metadata["tokenizer.chat_template"]?.string.flatMap(ChatTemplate.init(jinja:))
        }
        guard tokenizer.vocabularySize <= configuration.vocabularySize else {
            throw .malformed("tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(configuration.vocabularySize)")
        }
    }

    /// Token ids that end a generation: EOS and, for chat formats, the end-of-turn token.
    public var stopTokenIds: Set<Int32> {
        var ids = Set([tokenizer.eosTokenId].compactMap { $0 })
        for spelling in ["<|im_end|>", "<|eot_id|>", "<|endoftext|>"] {
            if let id = tokenizer.specialTokenId(spelling) { ids.insert(id) }
        }
        return ids
    }

    private static func huggingFaceChatTemplate(_ directory: URL) -> String? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("tokenizer_config.json")),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return json["chat_template"] as? String
    }
}
