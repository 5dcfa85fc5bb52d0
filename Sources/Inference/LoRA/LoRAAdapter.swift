import Foundation

/// A LoRA adapter ready for the engine: for some (layer, projection) pairs of a base model,
/// low-rank factors `A` (`rank × inputs`) and `B` (`outputs × rank`) and a scale, so that
/// the projection computes `y = W·x + scale·B·(A·x)` for requests that use it. The base
/// weights are never copied or changed; any number of adapters share one model.
///
/// Loaded from a PEFT directory or a llama.cpp GGUF LoRA file (`load`), or built from
/// arrays (`make`). All factors live in one allocation of `byteCount` bytes, kept alive by
/// whoever holds the adapter, in the file's float type (float32, float16 or bfloat16; other
/// types are widened to float32). Immutable, so any thread may read it.
public final class LoRAAdapter: Sendable {
    /// BLAKE2b-256 of the canonical content (docs/lora.md), 64 lowercase hex digits: the
    /// hash `register_adapter` puts on chain. Equal for the PEFT and GGUF forms of an adapter.
    public let id: String
    /// A label for people and lookups (by default the file or directory name).
    public let name: String
    /// The base model shape the factors were checked against and laid out for.
    public let configuration: LlamaConfiguration
    /// The adapted projections, by layer and then in `Projection.allCases` order.
    public let targets: [LoRATarget]
    let storage: AdapterStorage
    /// Index into `targets` per `layer · 7 + projection.index`, or −1.
    private let slots: [Int32]

    /// Bytes of the resident factors, the memory the adapter holds.
    public var byteCount: Int { storage.byteCount }

    /// Output columns per panel of a stored `B` (see `LoRATarget`).
    static let panelWidth = 32

    init(id: String, name: String, configuration: LlamaConfiguration, targets: [LoRATarget], storage: AdapterStorage) {
        self.id = id
        self.name = name
        self.configuration = configuration
        self.targets = targets
        self.storage = storage
        var slots = [Int32](repeating: -1, count: configuration.layerCount * Projection.allCases.count)
        for (index, target) in targets.enumerated() { slots[target.layer * Projection.allCases.count + target.projection.index] = Int32(index) }
        self.slots = slots
    }

    /// Reads a PEFT adapter directory (`adapter_config.json` + `adapter_model.safetensors`)
    /// or a GGUF LoRA file, checks it against `configuration` and computes its id.
    /// `name` defaults to the last path component.
    public static func load(path: String, for configuration: LlamaConfiguration, name: String? = nil) throws(AdapterError) -> LoRAAdapter {
        try read(path: path, configuration: configuration, name: name, identity: .compute)
    }

    /// Builds an adapter from factors in memory (B rows in Hugging Face order), checked like a file.
    public static func make(name: String, configuration: LlamaConfiguration, pairs: [LoRAPair]) throws(AdapterError) -> LoRAAdapter {
        try AdapterBuilder.build(name: name, configuration: configuration, sources: pairs.map(TargetSource.init(pair:)), identity: .compute)
    }

    /// `read` with the id either computed or, for files validated before, taken as known.
    static func read(path: String, configuration: LlamaConfiguration, name: String?, identity: AdapterBuilder.Identity) throws(AdapterError) -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .missingFile(path) }
        let sources = isDirectory.boolValue
            ? try PEFTReader.sources(directory: path, configuration: configuration)
            : try GGUFAdapterReader.sources(path: path)
        let label = name ?? URL(fileURLWithPath: path).lastPathComponent
        return try AdapterBuilder.build(name: label, configuration: configuration, sources: sources, identity: identity)
    }

    /// The pair adapting `projection` of `layer`, if any.
    public func target(layer: Int, projection: Projection) -> LoRATarget? {
        guard (0..<configuration.layerCount).contains(layer) else { return nil }
        let slot = slots[layer * Projection.allCases.count + projection.index]
        return slot < 0 ? nil : targets[Int(slot)]
    }

    /// Index of the pair for `layer`, `projection` in `targets`, or nil (hot path: no checks).
    @inline(__always)
    func targetIndex(layer: Int, projection: Projection) -> Int? {
        let slot = slots[layer * Projection.allCases.count + projection.index]
        return slot < 0 ? nil : Int(slot)
    }

    /// Every pair as plain float32 arrays: `A` row-major `rank × inputs`, `B` row-major
    /// `outputs × rank` with rows in Hugging Face order, whatever the base's layout.
    public func pairs() -> [LoRAPair] {
        targets.map { target in
            let a = (0..<(target.rank * target.inputs)).map { target.type.value(storage.base + target.aByteOffset, $0) }
            var b = [Float](repeating: 0, count: target.outputs * target.rank)
            let stored = RowOrder(configuration.ropeLayout)
            for row in 0..<target.outputs {
                let source = RowOrder.huggingFace.row(row, from: stored, projection: target.projection, headDimension: configuration.headDimension)
                for k in 0..<target.rank {
                    b[row * target.rank + k] = target.type.value(storage.base + target.bByteOffset, target.bIndex(row: source, k: k))
                }
            }
            return LoRAPair(layer: target.layer, projection: target.projection, rank: target.rank, scale: target.scale, a: a, b: b)
        }
    }
}

/// One adapted projection of one layer. `A` is stored row-major `rank × inputs`; `B` in
/// panels of `LoRAAdapter.panelWidth` output columns, each panel `rank × width` row-major,
/// so that adding `t·Bᵀ` to an output row reads memory in order.
public struct LoRATarget: Sendable, Equatable {
    public let layer: Int
    public let projection: Projection
    public let rank: Int
    /// Width of the projection's input (`A`'s columns).
    public let inputs: Int
    /// Width of the projection's output (`B`'s rows).
    public let outputs: Int
    /// Multiplier of `B·A`: `alpha / rank`, or `alpha / √rank` with rsLoRA.
    public let scale: Float
    /// How both factors are stored.
    let type: FactorType
    /// Offsets of `A` and of `B`'s first panel in the adapter's storage, in bytes.
    let aByteOffset: Int
    let bByteOffset: Int

    /// Bytes of both factors in the adapter's storage.
    var storedByteCount: Int { rank * (inputs + outputs) * type.byteWidth }

    /// Element index of `B[row, k]` (row in storage order) from `bByteOffset`.
    @inline(__always)
    func bIndex(row: Int, k: Int) -> Int {
        let width = LoRAAdapter.panelWidth, panel = row / width
        let panelColumns = min(width, outputs - panel * width)
        return panel * width * rank + k * panelColumns + row - panel * width
    }
}

/// The float type of an adapter's stored factors: the file's, so that resident bytes equal
/// tensor bytes.
enum FactorType: Sendable, Equatable {
    case f32, f16, bf16

    /// The stored type for a tensor of `type`: itself for the three float types, else float32.
    init(_ type: TensorType) {
        switch type {
        case .f16: self = .f16
        case .bf16: self = .bf16
        default: self = .f32
        }
    }

    var byteWidth: Int { self == .f32 ? 4 : 2 }

    /// Element `index` of the array at `base`, as float32.
    func value(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .f32: StoredF32.load(base, index)
        case .f16: StoredF16.load(base, index)
        case .bf16: StoredBF16.load(base, index)
        }
    }
}

/// One low-rank pair as plain arrays, for building (`LoRAAdapter.make`) and writing adapters.
public struct LoRAPair: Sendable, Equatable {
    public var layer: Int
    public var projection: Projection
    public var rank: Int
    public var scale: Float
    /// `rank × inputs` values, row-major (PEFT's `lora_A`).
    public var a: [Float]
    /// `outputs × rank` values, row-major (PEFT's `lora_B`), rows in Hugging Face order.
    public var b: [Float]

    public init(layer: Int, projection: Projection, rank: Int, scale: Float, a: [Float], b: [Float]) {
        self.layer = layer
        self.projection = projection
        self.rank = rank
        self.scale = scale
        self.a = a
        self.b = b
    }
}

extension Projection {
    /// Position in `allCases` (q, k, v, o, gate, up, down): the canonical order.
    var index: Int {
        switch self {
        case .query: 0
        case .key: 1
        case .value: 2
        case .output: 3
        case .gate: 4
        case .up: 5
        case .down: 6
        }
    }

    /// Input and output widths of this projection in a model of shape `c` (a LoRA pair's
    /// `A` is `rank × inputs`, its `B` `outputs × rank`).
    public func shape(_ c: LlamaConfiguration) -> (inputs: Int, outputs: Int) {
        let attention = c.headCount * c.headDimension, kv = c.kvHeadCount * c.headDimension
        switch self {
        case .query: return (c.hiddenSize, attention)
        case .key, .value: return (c.hiddenSize, kv)
        case .output: return (attention, c.hiddenSize)
        case .gate, .up: return (c.hiddenSize, c.intermediateSize)
        case .down: return (c.intermediateSize, c.hiddenSize)
        }
    }

    /// The Hugging Face submodule holding it: `self_attn` or `mlp`.
    var huggingFaceGroup: String { index < 4 ? "self_attn" : "mlp" }
}
