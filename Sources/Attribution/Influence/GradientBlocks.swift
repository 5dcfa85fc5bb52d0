import Inference

/// The blocks attribution splits a LoRA gradient into: every `lora_A` and every `lora_B`
/// matrix of the adapter on its own (DataInf's blocks), in PEFT's order — by layer, then
/// q, k, v, o, gate, up, down, `A` before `B` — each with its entries row-major in PEFT's
/// layout (`A` `rank × inputs`, `B` `outputs × rank`, rows in Hugging Face order).
public struct GradientBlocks: Sendable, Equatable {
    /// One block: its PEFT tensor name and how many entries it has.
    public struct Block: Sendable, Equatable {
        public let name: String
        public let count: Int
    }

    public let blocks: [Block]

    /// The blocks of an adapter with `parameters`' modules.
    public init(_ parameters: LoRAParameters) {
        blocks = parameters.modules.flatMap { module -> [Block] in
            let group = [.gate, .up, .down].contains(module.projection) ? "mlp" : "self_attn"
            let path = "base_model.model.model.layers.\(module.layer).\(group).\(module.projection.rawValue)"
            return [Block(name: path + ".lora_A.weight", count: module.rank * module.inputs),
                    Block(name: path + ".lora_B.weight", count: module.outputs * module.rank)]
        }
    }

    /// Entries in all blocks.
    public var count: Int { blocks.reduce(0) { $0 + $1.count } }

    /// Each block's entries in a flattened gradient.
    public var ranges: [Range<Int>] { Self.ranges(blocks.map(\.count)) }

    /// Consecutive ranges of `counts` entries each, from 0: where each block's values lie in a
    /// vector of the blocks in order (entries of a gradient, or features of a projection).
    public static func ranges(_ counts: [Int]) -> [Range<Int>] {
        var start = 0
        return counts.map { count in
            defer { start += count }
            return start..<(start + count)
        }
    }

    /// `gradient` (in `parameters`' layout) as one vector of the blocks in order, PEFT layout.
    public static func flatten(_ gradient: [Float], of parameters: LoRAParameters) -> [Float] {
        var vector: [Float] = []
        vector.reserveCapacity(gradient.count)
        for pair in parameters.pairs(of: gradient) {
            vector += pair.a
            vector += pair.b
        }
        return vector
    }
}
