import Foundation

/// Reads a PEFT LoRA directory: `adapter_config.json` decides which projections of which
/// layers are adapted and with what rank and alpha; `adapter_model.safetensors` holds
/// `…layers.N.self_attn.q_proj.lora_A.weight` (`[r, in]`) and `…lora_B.weight` (`[out, r]`).
/// Options that change the forward pass in ways this engine does not implement are
/// rejected by name; options that only concern training are ignored.
enum PEFTReader {
    static let configName = "adapter_config.json"
    static let weightsName = "adapter_model.safetensors"

    /// Options that must keep their default (listed value check) or the adapter is refused.
    static let refusedUnlessDefault: [(key: String, isDefault: @Sendable (Any) -> Bool)] = [
        ("use_dora", isUnset), ("lora_bias", isUnset), ("fan_in_fan_out", isUnset), ("modules_to_save", isUnset),
        ("layer_replication", isUnset), ("target_parameters", isUnset), ("use_qalora", isUnset),
        ("trainable_token_indices", isUnset), ("alora_invocation_tokens", isUnset), ("exclude_modules", isUnset),
        ("arrow_config", isUnset), ("use_bdlora", isUnset), ("kasa_config", isUnset), ("monteclora_config", isUnset),
        ("velora_config", isUnset), ("bias", { ($0 as? String) == "none" || $0 is NSNull }),
    ]
    /// Options read by `sources`.
    static let understood: Set<String> = [
        "peft_type", "r", "lora_alpha", "use_rslora", "target_modules", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
    ]
    /// Options that only matter for training or bookkeeping.
    static let ignored: Set<String> = [
        "base_model_name_or_path", "revision", "task_type", "inference_mode", "init_lora_weights", "lora_dropout",
        "loftq_config", "eva_config", "corda_config", "lora_ga_config", "megatron_config", "megatron_core",
        "auto_mapping", "peft_version", "qalora_group_size", "runtime_config", "ensure_weight_tying",
    ]

    static func sources(directory: String, configuration c: LlamaConfiguration) throws(AdapterError) -> [TargetSource] {
        let folder = URL(fileURLWithPath: directory)
        let configPath = folder.appendingPathComponent(configName).path
        guard FileManager.default.fileExists(atPath: configPath) else { throw .missingFile(configPath) }
        guard let config = FileHandle(forReadingAtPath: configPath) else { throw .badConfig("\(configPath) cannot be opened") }
        // Both files are requested from disk before either is read, the small config first so
        // that its read does not queue behind the weights' (a config error is still reported
        // before a weights error).
        posix_fadvise(config.fileDescriptor, 0, 0, POSIX_FADV_WILLNEED)
        let weightsPath = folder.appendingPathComponent(weightsName).path
        let weights = FileManager.default.fileExists(atPath: weightsPath)
            ? Result { () throws(ModelFileError) in try MappedFile(path: weightsPath) } : nil
        guard let data = try? config.readToEnd(),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw .badConfig("\(configPath) is not a JSON object") }
        try checkOptions(json)

        guard let rank = json["r"] as? Int, rank >= 1 else { throw .badConfig("r must be a positive integer") }
        guard let alpha = (json["lora_alpha"] as? NSNumber)?.doubleValue, alpha.isFinite else { throw .badConfig("lora_alpha must be a number") }
        let rsLoRA = try flag(json, "use_rslora")
        let layers = try layersToTransform(json["layers_to_transform"], layerCount: c.layerCount)
        let targeted = try targetedModules(json["target_modules"], layers: layers, layerCount: c.layerCount)
        let ranks = try pattern(json["rank_pattern"], "rank_pattern") { ($0 as? Int).flatMap { $0 >= 1 ? Double($0) : nil } }
        let alphas = try pattern(json["alpha_pattern"], "alpha_pattern") { ($0 as? NSNumber)?.doubleValue.nonNaNFinite }

        guard let weights else {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("adapter_model.bin").path) {
                throw .unsupportedOption("adapter_model.bin (PyTorch pickle); save the adapter with safetensors")
            }
            throw .missingFile(weightsPath)
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(file: weights.get()) } catch { throw .file(error) }

        var factors: [ModulePath: (a: TensorData?, b: TensorData?)] = [:]
        for tensor in file.tensors {
            guard let (path, isA) = parse(tensor.name) else { throw .unexpectedTensor(tensor.name) }
            guard path.layer < c.layerCount else { throw .layerOutOfRange(path.layer, layerCount: c.layerCount) }
            guard targeted.contains(path) else { throw .unexpectedTensor("\(tensor.name) (its module is not among target_modules/layers_to_transform)") }
            if isA { factors[path, default: (nil, nil)].a = tensor } else { factors[path, default: (nil, nil)].b = tensor }
        }
        var sources: [TargetSource] = []
        for path in targeted.sorted() {
            guard let a = factors[path]?.a else { throw .missingTensor("base_model.model.\(path.name).lora_A.weight") }
            guard let b = factors[path]?.b else { throw .missingTensor("base_model.model.\(path.name).lora_B.weight") }
            let moduleRank = try match(ranks, path: path, "rank_pattern").map(Int.init) ?? rank
            let moduleAlpha = try match(alphas, path: path, "alpha_pattern") ?? alpha
            let scale = Float(moduleAlpha / (rsLoRA ? Double(moduleRank).squareRoot() : Double(moduleRank)))
            sources.append(TargetSource(layer: path.layer, projection: path.projection, rank: moduleRank, scale: scale, a: a, b: b, rowOrder: .huggingFace))
        }
        return sources
    }

    /// A block projection as Hugging Face names it: `model.layers.N.self_attn.q_proj`.
    struct ModulePath: Hashable, Comparable {
        let layer: Int
        let projection: Projection

        var name: String { "model.layers.\(layer).\(projection.huggingFaceGroup).\(projection.rawValue)" }

        static func < (a: Self, b: Self) -> Bool { (a.layer, a.projection.index) < (b.layer, b.projection.index) }
    }

    /// A `target_modules` entry or `rank_pattern`/`alpha_pattern` key. As in PEFT it names
    /// every module whose path equals it or ends with "." + it; compared here component by
    /// component from the end, without spelling out each path.
    struct ModuleSuffix {
        let key: String
        /// The key's dot-separated components, last first.
        private let components: [Substring]

        init(_ key: String) {
            self.key = key
            components = key.split(separator: ".", omittingEmptySubsequences: false).reversed()
        }

        func matches(_ path: ModulePath) -> Bool {
            guard components.count <= 5 else { return false }
            for (index, component) in components.enumerated() {
                let equal = switch index {
                case 0: component == path.projection.rawValue
                case 1: component == path.projection.huggingFaceGroup
                case 2: component == String(path.layer)
                case 3: component == "layers"
                default: component == "model"
                }
                guard equal else { return false }
            }
            return true
        }
    }

    /// `[base_model.model.]model.layers.N.<self_attn|mlp>.<module>.lora_<A|B>.weight`,
    /// read from the name's UTF-8 bytes (a load parses hundreds of names).
    static func parse(_ name: String) -> (ModulePath, isA: Bool)? {
        var name = name
        return name.withUTF8 { bytes in
            var parts = NameParts(bytes)
            if bytes.starts(with: NameParts.peftPrefix) { parts.skip(NameParts.peftPrefix.count) }
            guard parts.next(is: "model"), parts.next(is: "layers"), let layer = parts.nextDecimal(),
                  let group = parts.next(), let module = parts.next(),
                  let projection = Projection.allCases.first(where: { module.elementsEqual($0.rawValue.utf8) }),
                  group.elementsEqual(projection.huggingFaceGroup.utf8),
                  let factor = parts.next(), parts.next(is: "weight"), parts.isAtEnd
            else { return nil }
            let isA = factor.elementsEqual("lora_A".utf8)
            guard isA || factor.elementsEqual("lora_B".utf8) else { return nil }
            return (ModulePath(layer: layer, projection: projection), isA)
        }
    }

    /// The dot-separated components of a tensor name's bytes, taken one at a time.
    private struct NameParts {
        static let peftPrefix = Array("base_model.model.".utf8)
        private let bytes: UnsafeBufferPointer<UInt8>
        private var position = 0
        /// Whether the last component was taken (a name ending in a dot has an empty one more).
        private(set) var isAtEnd = false

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skip(_ count: Int) { position += count }

        mutating func next() -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard !isAtEnd else { return nil }
            let end = bytes[position...].firstIndex(of: UInt8(ascii: ".")) ?? bytes.count
            defer { if end == bytes.count { isAtEnd = true } else { position = end + 1 } }
            return bytes[position..<end]
        }

        mutating func next(is expected: StaticString) -> Bool {
            guard let part = next() else { return false }
            return part.elementsEqual(UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount))
        }

        /// Decimal digits without a leading zero (or "0" itself), at most 18 of them.
        mutating func nextDecimal() -> Int? {
            guard let digits = next(), !digits.isEmpty, digits.count <= 18, digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
            var value = 0
            for digit in digits {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
                value = value * 10 + Int(digit - UInt8(ascii: "0"))
            }
            return value
        }
    }

    private static func checkOptions(_ json: [String: Any]) throws(AdapterError) {
        if let type = json["peft_type"], !(type is NSNull), (type as? String) != "LORA" { throw .unsupportedOption("peft_type \(type) (only LORA)") }
        if let pattern = json["layers_pattern"], !(pattern is NSNull), (pattern as? String) != "layers", (pattern as? [String]) != ["layers"] {
            throw .unsupportedOption("layers_pattern \(pattern) (only layers)")
        }
        for (key, isDefault) in refusedUnlessDefault {
            if let value = json[key], !isDefault(value) { throw .unsupportedOption("\(key) = \(value)") }
        }
        let known = understood.union(ignored).union(refusedUnlessDefault.map(\.key))
        for (key, value) in json.sorted(by: { $0.key < $1.key }) where !known.contains(key) && !isUnset(value) {
            throw .unsupportedOption("unknown option \(key) = \(value)")
        }
    }

    /// null, false, 0, or an empty string, list or object.
    static func isUnset(_ value: Any) -> Bool {
        switch value {
        case is NSNull: true
        case let number as NSNumber: number == 0
        case let string as String: string.isEmpty
        case let array as [Any]: array.isEmpty
        case let object as [String: Any]: object.isEmpty
        default: false
        }
    }

    private static func flag(_ json: [String: Any], _ key: String) throws(AdapterError) -> Bool {
        guard let value = json[key], !(value is NSNull) else { return false }
        guard let flag = value as? Bool else { throw .badConfig("\(key) must be true or false") }
        return flag
    }

    /// The layers adapted: all, or those listed (an integer or a list of them).
    private static func layersToTransform(_ value: Any?, layerCount: Int) throws(AdapterError) -> Set<Int> {
        guard let value, !(value is NSNull) else { return Set(0..<layerCount) }
        guard let list = (value as? [Int]) ?? (value as? Int).map({ [$0] }) else { throw .badConfig("layers_to_transform must be an integer or a list of integers") }
        for layer in list where !(0..<layerCount).contains(layer) { throw .layerOutOfRange(layer, layerCount: layerCount) }
        return Set(list)
    }

    /// Every (layer, projection) matched by an entry of `target_modules`. An entry matches a
    /// module whose path equals it or ends with "." + entry, as in PEFT; an entry that
    /// matches none of the seven projections is an unknown module.
    private static func targetedModules(_ value: Any?, layers: Set<Int>, layerCount: Int) throws(AdapterError) -> Set<ModulePath> {
        let entries: [String]
        switch value {
        case let list as [String]: entries = list
        case let string as String where string == "all-linear": entries = Projection.allCases.map(\.rawValue)
        case is String: throw .unsupportedOption("target_modules as a regular expression (\(value!))")
        default: throw .badConfig("target_modules must be a list of module names")
        }
        guard !entries.isEmpty else { throw .badConfig("target_modules is empty") }
        var targeted = Set<ModulePath>()
        for entry in entries {
            let suffix = ModuleSuffix(entry)
            var matched = false
            for layer in 0..<layerCount {
                for projection in Projection.allCases {
                    let path = ModulePath(layer: layer, projection: projection)
                    guard suffix.matches(path) else { continue }
                    matched = true
                    if layers.contains(layer) { targeted.insert(path) }
                }
            }
            guard matched else { throw .unknownTargetModule(entry) }
        }
        return targeted
    }

    /// A `rank_pattern` / `alpha_pattern` object: module-path suffix → value.
    private static func pattern(_ value: Any?, _ field: String, _ convert: (Any) -> Double?) throws(AdapterError) -> [(key: ModuleSuffix, value: Double)] {
        guard let value, !(value is NSNull) else { return [] }
        guard let object = value as? [String: Any] else { throw .badConfig("\(field) must be an object") }
        var entries: [(ModuleSuffix, Double)] = []
        for (key, raw) in object.sorted(by: { $0.key < $1.key }) {
            guard key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }) else {
                throw .unsupportedOption("\(field) key '\(key)' (regular expressions are not supported)")
            }
            guard let number = convert(raw) else { throw .badConfig("\(field)[\(key)] = \(raw) is not valid") }
            entries.append((ModuleSuffix(key), number))
        }
        return entries
    }

    /// The value of the keys matching `path`; keys that match with different values are an error.
    private static func match(_ entries: [(key: ModuleSuffix, value: Double)], path: ModulePath, _ field: String) throws(AdapterError) -> Double? {
        let matching = entries.filter { $0.key.matches(path) }
        guard let first = matching.first else { return nil }
        if let other = matching.first(where: { $0.value != first.value }) {
            throw .badConfig("\(field) keys '\(first.key.key)' and '\(other.key.key)' both match \(path.name) with different values")
        }
        return first.value
    }
}

private extension Double {
    var nonNaNFinite: Double? { isFinite ? self : nil }
}
