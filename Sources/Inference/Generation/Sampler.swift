import Foundation

/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 picks the most likely token (greedy).
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`; 1 keeps all.
    public var topP: Float
    /// Seed of the random choice, so a sampled generation can be repeated.
    public var seed: UInt64

    /// Parameters with llama.cpp's common defaults unless given.
    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    /// Always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1)
}

/// Picks tokens from logits according to `SamplingParameters`, deterministically for a seed.
public struct Sampler: Sendable {
    /// How this sampler chooses.
    public let parameters: SamplingParameters
    private var random: SplitMix64

    /// A sampler seeded with `parameters.seed`.
    public init(_ parameters: SamplingParameters) {
        precondition(parameters.temperature >= 0 && parameters.temperature.isFinite, "temperature must be finite and non-negative")
        precondition(parameters.topK >= 0, "top-k must be non-negative")
        precondition(parameters.topP > 0 && parameters.topP <= 1, "top-p must be in (0, 1]")
        self.parameters = parameters
        self.random = SplitMix64(seed: parameters.seed)
    }

    /// The next token for `logits`.
    public mutating func sample(_ logits: [Float]) -> Int32 {
        precondition(!logits.isEmpty, "no logits to sample from")
        if parameters.temperature == 0 || parameters.topK == 1 { return Self.argmax(logits) }
        let keep = parameters.topK == 0 ? logits.count : min(parameters.topK, logits.count)
        let candidates = Self.largest(keep, of: logits)
        let top = Double(logits[candidates[0]])
        var weights = candidates.map { exp((Double(logits[$0]) - top) / Double(parameters.temperature)) }
        let total = weights.reduce(0, +)
        if parameters.topP < 1 {
            var cumulative = 0.0
            var cut = weights.count
            for (index, weight) in weights.enumerated() {
                cumulative += weight / total
                if cumulative >= Double(parameters.topP) { cut = index + 1; break }
            }
            weights.removeSubrange(cut...)
        }
        let target = Double.random(in: 0..<1, using: &random) * weights.reduce(0, +)
        var cumulative = 0.0
        for (index, weight) in weights.enumerated() {
            cumulative += weight
            if target < cumulative { return Int32(candidates[index]) }
        }
        return Int32(candidates[weights.count - 1])
    }

    /// Largest `count` that `largest` keeps in an insertion buffer; beyond it, filling the
    /// buffer alone would cost `count²/2` moves (a client's `top_k` near the vocabulary size
    /// would stall every sequence), so the values are sorted whole instead.
    static let insertionCountMax = 256

    /// Indices of the `count` largest values, largest first (lower index first among equals):
    /// for a few, kept in a sorted buffer that only rare large values enter; for many, the
    /// prefix of all indices sorted.
    static func largest(_ count: Int, of values: [Float]) -> [Int] {
        guard count <= insertionCountMax else {
            let sorted = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
            return count >= values.count ? sorted : Array(sorted.prefix(count))
        }
        var best: [Int] = []
        best.reserveCapacity(count + 1)
        for index in values.indices {
            let value = values[index]
            if best.count == count, value <= values[best[count - 1]] { continue }
            var position = best.count
            while position > 0, values[best[position - 1]] < value { position -= 1 }
            best.insert(index, at: position)
            if best.count > count { best.removeLast() }
        }
        return best
    }

    /// Index of the largest value, the lowest index among equals (NaNs are never chosen
    /// unless every value is NaN).
    public static func argmax(_ values: [Float]) -> Int32 {
        values.withUnsafeBufferPointer { buffer in
            // The maximum eight lanes at a time, then the first index holding it.
            let count = buffer.count, raw = UnsafeRawPointer(buffer.baseAddress!)
            var lanes = SIMD8<Float>(repeating: -.infinity)
            var index = 0
            while index + 8 <= count {
                let next = raw.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
                lanes.replace(with: next, where: next .> lanes)
                index += 8
            }
            var maximum = lanes.max()
            for tail in index..<count where buffer[tail] > maximum { maximum = buffer[tail] }
            return Int32(buffer.firstIndex(of: maximum) ?? 0)
        }
    }
}
