/// The trainable factors of a LoRA adapter in float32, every `A` and `B` in one flat vector
/// (`values`), so that the optimizer, gradient clipping and checkpoints handle one array and
/// a gradient is a vector of the same layout.
///
/// Modules are in canonical order (layer, then `Projection.allCases`). Each module's `A`
/// (`rank × inputs`, row-major, PEFT's `lora_A`) is followed by its `B` (`outputs × rank`,
/// row-major) whose rows are in the base model's stored order: for a GGUF model the query and
/// key rows are permuted as its weights are (`RowOrder`). `pairs()` gives PEFT's order.
public struct LoRAParameters: Sendable, Equatable {
    /// One adapted projection and where its factors lie in `values`.
    public struct Module: Sendable, Equatable {
        public let layer: Int
        public let projection: Projection
        public let rank: Int
        /// Multiplier of `B·A` (`alpha / rank`).
        public let scale: Float
        public let inputs: Int
        public let outputs: Int
        /// Offset of `A` in `values`; `B` follows it at `bOffset`.
        public let aOffset: Int
        public var bOffset: Int { aOffset + rank * inputs }
        /// Floats of both factors.
        public var count: Int { rank * (inputs + outputs) }
    }

    /// The base model shape the factors belong to.
    public let configuration: LlamaConfiguration
    public let modules: [Module]
    /// Every module's `A` then `B`, in `modules` order.
    public var values: [Float]

    /// Zero factors for `layers` × `projections` at `rank` with scale `alpha / rank`.
    public init(configuration c: LlamaConfiguration, layers: [Int], projections: [Projection], rank: Int, alpha: Float) {
        precondition(rank >= 1 && alpha.isFinite, "rank must be positive and alpha finite")
        var modules: [Module] = []
        var offset = 0
        for layer in Set(layers).sorted() {
            precondition((0..<c.layerCount).contains(layer), "layer \(layer) outside the model")
            for projection in Projection.allCases where projections.contains(projection) {
                let (inputs, outputs) = projection.shape(c)
                modules.append(Module(layer: layer, projection: projection, rank: rank, scale: alpha / Float(rank), inputs: inputs, outputs: outputs, aOffset: offset))
                offset += modules.last!.count
            }
        }
        precondition(!modules.isEmpty, "an adapter needs at least one module")
        self.configuration = c
        self.modules = modules
        self.values = [Float](repeating: 0, count: offset)
    }

    /// PEFT's initialisation: each `A` uniform in ±1/√inputs (Kaiming-uniform with a = √5),
    /// drawn from `seed` module by module, row by row; each `B` zero, so training starts
    /// from the base model's outputs.
    public static func initialized(
        configuration: LlamaConfiguration, layers: [Int], projections: [Projection], rank: Int, alpha: Float, seed: UInt64
    ) -> LoRAParameters {
        var parameters = LoRAParameters(configuration: configuration, layers: layers, projections: projections, rank: rank, alpha: alpha)
        var random = SplitMix64(seed: seed)
        for module in parameters.modules {
            let bound = 1 / Float(module.inputs).squareRoot()
            for index in module.aOffset..<module.bOffset {
                // 24 random bits to a float in [0, 1), then to [−bound, bound).
                let unit = Float(random.next() >> 40) * 0x1p-24
                parameters.values[index] = bound * (2 * unit - 1)
            }
        }
        return parameters
    }

    /// The factors of `pairs` (PEFT order), which must all have the same rank and scale.
    public init(pairs: [LoRAPair], configuration c: LlamaConfiguration) throws(AdapterError) {
        let sorted = try PEFTWriter.checked(pairs, configuration: c)
        guard sorted.allSatisfy({ $0.rank == sorted[0].rank && $0.scale == sorted[0].scale }) else {
            throw .badConfig("training needs one rank and one scale for every module")
        }
        var modules: [Module] = []
        var values: [Float] = []
        for pair in sorted {
            let (inputs, outputs) = pair.projection.shape(c)
            let module = Module(layer: pair.layer, projection: pair.projection, rank: pair.rank, scale: pair.scale, inputs: inputs, outputs: outputs, aOffset: values.count)
            modules.append(module)
            values += pair.a
            values += Self.reorderRows(pair.b, module: module, configuration: c, to: RowOrder(c.ropeLayout), from: .huggingFace)
        }
        self.configuration = c
        self.modules = modules
        self.values = values
    }

    /// The factors as PEFT pairs (`B` rows in Hugging Face order).
    public func pairs() -> [LoRAPair] { pairs(of: values) }

    /// `vector` (this layout, e.g. a gradient) cut into PEFT pairs: `a` and `b` hold the
    /// vector's parts for each module's `A` and `B`, `B` rows in Hugging Face order.
    public func pairs(of vector: [Float]) -> [LoRAPair] {
        precondition(vector.count == values.count, "vector of \(vector.count) values for \(values.count) parameters")
        return modules.map { module in
            let b = Array(vector[module.bOffset..<(module.bOffset + module.outputs * module.rank)])
            return LoRAPair(
                layer: module.layer, projection: module.projection, rank: module.rank, scale: module.scale,
                a: Array(vector[module.aOffset..<module.bOffset]),
                b: Self.reorderRows(b, module: module, configuration: configuration, to: .huggingFace, from: RowOrder(configuration.ropeLayout)))
        }
    }

    /// Index into `modules` of the module adapting `projection` of `layer`.
    public func moduleIndex(layer: Int, projection: Projection) -> Int? {
        modules.firstIndex { $0.layer == layer && $0.projection == projection }
    }

    /// `b`'s rows moved from `source` to `target` row order.
    private static func reorderRows(_ b: [Float], module: Module, configuration c: LlamaConfiguration, to target: RowOrder, from source: RowOrder) -> [Float] {
        guard target != source else { return b }
        var reordered = b
        for row in 0..<module.outputs {
            let from = target.row(row, from: source, projection: module.projection, headDimension: c.headDimension)
            for k in 0..<module.rank { reordered[row * module.rank + k] = b[from * module.rank + k] }
        }
        return reordered
    }
}
