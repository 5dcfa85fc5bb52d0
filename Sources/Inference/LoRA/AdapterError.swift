/// Why an adapter could not be read, written, registered or loaded. Every check of an
/// adapter file reports one of these, never a trap.
public enum AdapterError: Error, Equatable, CustomStringConvertible {
    /// A file the format requires is absent.
    case missingFile(String)
    /// A file or tensor is malformed (the underlying parser's message).
    case file(ModelFileError)
    /// The file is a GGUF file but not a LoRA adapter (`general.type`).
    case notAnAdapter(String)
    /// `adapter_config.json` is not valid JSON, lacks a field or has one of the wrong kind.
    case badConfig(String)
    /// The adapter uses a PEFT option or a format feature this engine does not implement.
    case unsupportedOption(String)
    /// A `target_modules` entry names no linear map of the model's blocks.
    case unknownTargetModule(String)
    /// A tensor is not a LoRA factor of one of the seven block projections.
    case unexpectedTensor(String)
    /// A targeted module lacks one of its two factors.
    case missingTensor(String)
    /// A tensor's shape does not fit the base model or the adapter's rank.
    case shapeMismatch(tensor: String, shape: [Int], expected: [Int])
    /// A layer index is outside the base model.
    case layerOutOfRange(Int, layerCount: Int)
    /// A tensor holds NaN or an infinity.
    case nonFiniteWeights(String)
    /// The adapter was built for a different base model shape than the one it is used with.
    case configurationMismatch(String)
    /// The adapter cannot be written in the requested format without changing it.
    case notRepresentable(String)
    /// No adapter with this id or name is registered.
    case unknownAdapter(String)
    /// An adapter with the same content (id) or the same name is already registered.
    case alreadyRegistered(String)
    /// The adapter needs more bytes than the store's whole budget.
    case exceedsBudget(name: String, bytes: Int, budgetBytes: Int)
    /// A registered adapter's files changed since they were validated.
    case changedOnDisk(String)
    /// Writing an adapter failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): "adapter file missing: \(path)"
        case let .file(error): "adapter file: \(error)"
        case let .notAnAdapter(message): "not a LoRA adapter: \(message)"
        case let .badConfig(message): "bad adapter_config.json: \(message)"
        case let .unsupportedOption(option): "unsupported adapter option: \(option)"
        case let .unknownTargetModule(name):
            "unknown target module '\(name)' (supported: \(Projection.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unexpectedTensor(name): "tensor \(name) is not a LoRA factor of a block projection"
        case let .missingTensor(name): "adapter lacks tensor \(name)"
        case let .shapeMismatch(tensor, shape, expected): "tensor \(tensor) has shape \(shape), expected \(expected) for this base model"
        case let .layerOutOfRange(layer, count): "layer \(layer) is outside the base model's \(count) layers"
        case let .nonFiniteWeights(tensor): "tensor \(tensor) holds NaN or infinite values"
        case let .configurationMismatch(message): "adapter does not fit this model: \(message)"
        case let .notRepresentable(message): "adapter cannot be written: \(message)"
        case let .unknownAdapter(key): "no adapter \(key) is registered"
        case let .alreadyRegistered(message): "already registered: \(message)"
        case let .exceedsBudget(name, bytes, budget): "adapter \(name) needs \(bytes) bytes, more than the whole budget of \(budget)"
        case let .changedOnDisk(path): "adapter file \(path) changed since it was registered"
        case let .writeFailed(path, reason): "cannot write \(path): \(reason)"
        }
    }
}
