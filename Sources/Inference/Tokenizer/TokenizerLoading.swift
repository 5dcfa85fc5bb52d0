import Foundation

extension BPETokenizer {
    /// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
    public init(gguf metadata: GGUFMetadata) throws(ModelFileError) {
        let model = try metadata.string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw .unsupported("tokenizer model '\(model)' (only byte-level BPE, 'gpt2', is implemented)")
        }
        let vocabulary = try metadata.stringArray("tokenizer.ggml.tokens")
        var merges: [(String, String)] = []
        for line in try metadata.stringArray("tokenizer.ggml.merges") {
            merges.append(try Self.mergePair(line))
        }
        var special: Set<Int32> = []
        if metadata["tokenizer.ggml.token_type"] != nil {
            let types = try metadata.integerArray("tokenizer.ggml.token_type")
            guard types.count == vocabulary.count else { throw .malformed("token_type has \(types.count) entries for \(vocabulary.count) tokens") }
            // 3 = control, 4 = user-defined: both are matched whole in text.
            for (id, type) in types.enumerated() where type == 3 || type == 4 { special.insert(Int32(id)) }
        }
        let pre = metadata["tokenizer.ggml.pre"]?.string ?? "default"
        let preTokenizer: PreTokenizer
        switch pre {
        case "smollm": preTokenizer = .gpt2(isolateDigits: true)
        case "gpt-2", "gpt2", "default": preTokenizer = .gpt2(isolateDigits: false)
        case "llama-bpe", "llama3": preTokenizer = .llama3(numberRunMax: 3)
        case "qwen2": preTokenizer = .llama3(numberRunMax: 1)
        default: throw .unsupported("pre-tokenizer '\(pre)' (implemented: smollm, gpt-2, llama-bpe, qwen2)")
        }
        func tokenId(_ key: String) throws(ModelFileError) -> Int32? {
            guard metadata[key] != nil else { return nil }
            return Int32(clamping: try metadata.integer(key))
        }
        try self.init(
            vocabulary: vocabulary, merges: merges, specialTokenIds: special, preTokenizer: preTokenizer,
            bosTokenId: try tokenId("tokenizer.ggml.bos_token_id"), eosTokenId: try tokenId("tokenizer.ggml.eos_token_id"),
            addsBOS: metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false
        )
    }

    /// The tokenizer of a Hugging Face model directory: `tokenizer.json`, with BOS/EOS and
    /// `add_bos_token` from `tokenizer_config.json` when present.
    public init(huggingFaceDirectory directory: URL) throws(ModelFileError) {
        let json = try Self.jsonObject(directory.appendingPathComponent("tokenizer.json"))
        guard let model = json["model"] as? [String: Any], (model["type"] as? String) == "BPE",
              let vocabularyMap = model["vocab"] as? [String: Int], let mergeEntries = model["merges"] as? [Any]
        else { throw .unsupported("tokenizer.json: only a BPE model with vocab and merges is implemented") }
        var added: [(Int, String)] = []
        for entry in json["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = entry["id"] as? Int, let content = entry["content"] as? String else {
                throw .malformed("tokenizer.json: added token without id or content")
            }
            added.append((id, content))
        }
        let size = max(vocabularyMap.values.max() ?? -1, added.map(\.0).max() ?? -1) + 1
        guard size > 0, size <= 1 << 24, vocabularyMap.values.allSatisfy({ $0 >= 0 }), added.allSatisfy({ $0.0 >= 0 }) else {
            throw .malformed("tokenizer.json: token ids out of range")
        }
        var vocabulary = [String](repeating: "", count: size)
        for (token, id) in vocabularyMap { vocabulary[id] = token }
        for (id, content) in added { vocabulary[id] = content }
        var merges: [(String, String)] = []
        for entry in mergeEntries {
            if let line = entry as? String {
                merges.append(try Self.mergePair(line))
            } else if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw .malformed("tokenizer.json: a merge is neither \"a b\" nor [a, b]")
            }
        }
        let preTokenizer = try Self.preTokenizer(json["pre_tokenizer"])
        let config = (try? Self.jsonObject(directory.appendingPathComponent("tokenizer_config.json"))) ?? [:]
        let ids = Dictionary(vocabulary.enumerated().map { ($1, Int32($0)) }, uniquingKeysWith: { first, _ in first })
        func tokenId(_ key: String) -> Int32? {
            let value = config[key]
            if let text = value as? String { return ids[text] }
            if let object = value as? [String: Any], let text = object["content"] as? String { return ids[text] }
            return nil
        }
        try self.init(
            vocabulary: vocabulary, merges: merges, specialTokenIds: Set(added.map { Int32($0.0) }), preTokenizer: preTokenizer,
            bosTokenId: tokenId("bos_token"), eosTokenId: tokenId("eos_token"),
            addsBOS: config["add_bos_token"] as? Bool ?? false
        )
    }

    private static func mergePair(_ line: String) throws(ModelFileError) -> (String, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .malformed("merge '\(line)' is not two tokens separated by one space") }
        return (String(parts[0]), String(parts[1]))
    }

    /// Recognises the pre-tokenizer configurations of the supported model families.
    private static func preTokenizer(_ value: Any?) throws(ModelFileError) -> PreTokenizer {
        guard let object = value as? [String: Any], let type = object["type"] as? String else {
            throw .unsupported("tokenizer.json without a pre_tokenizer")
        }
        let steps = type == "Sequence" ? (object["pretokenizers"] as? [[String: Any]] ?? []) : [object]
        let types = steps.compactMap { $0["type"] as? String }
        if types == ["ByteLevel"] { return .gpt2(isolateDigits: false) }
        if types == ["Digits", "ByteLevel"], steps[0]["individual_digits"] as? Bool == true { return .gpt2(isolateDigits: true) }
        if types.first == "Split", let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String {
            if pattern.contains("\\p{N}{1,3}") { return .llama3(numberRunMax: 3) }
            if pattern.contains("|\\p{N}|") || pattern.contains("|\\p{N}| ?") { return .llama3(numberRunMax: 1) }
        }
        throw .unsupported("tokenizer.json pre_tokenizer \(types) (implemented: ByteLevel, Digits+ByteLevel, Llama 3 and Qwen2 splits)")
    }

    private static func jsonObject(_ url: URL) throws(ModelFileError) -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw .unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .malformed("\(url.lastPathComponent) is not a JSON object")
        }
        return object
    }
}
