import Foundation
import Inference
import Testing

/// The optional int8-activation path: its kernels compute exactly the product with the
/// quantized activations, and the model stays close to the float32 reference with it.
@Suite struct Int8ActivationTests {
    /// What `ActivationPrecision.int8` does to a vector: per 32-value block,
    /// `q = round(x / d)` (ties to even) with `d = max|x| / 127`, giving back `q · d`.
    static func quantizedValues(_ x: [Float]) -> [Float] {
        stride(from: 0, to: x.count, by: 32).flatMap { start -> [Float] in
            let block = x[start..<(start + 32)]
            let scale = block.map(abs).max()! / 127
            let inverse: Float = scale == 0 ? 0 : 1 / scale
            return block.map { ($0 * inverse).rounded(.toNearestOrEven) * scale }
        }
    }

    /// For every Q4_0, Q4_1 and Q8_0 tensor of the parser's sample file (rows of one, two and
    /// three blocks, so pairs that end half empty too): the int8 product equals the float32
    /// product of the quantized activations up to float rounding, and that one equals the
    /// definition computed in double precision.
    @Test func kernelsComputeTheProductWithTheQuantizedActivations() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile(path: write(GGUFParserTests.sample().bytes(), named: "sample.gguf", in: directory))
        var random = SeededGenerator(seed: 0x1_2808)
        var checked = 0
        for tensor in file.tensors where [.q4_0, .q4_1, .q8_0].contains(tensor.type) {
            let matrix = try WeightMatrix(tensor)
            let weights = tensor.floats()
            for round in 0..<4 {
                var x = (0..<matrix.columns).map { _ in Float.random(in: -2...2, using: &random) }
                x[Int.random(in: 0..<matrix.columns, using: &random)] = 9  // an outlier sets its block's scale
                if round == 3 { for c in 0..<32 { x[c] = 0 } }  // an all-zero block has scale 0
                let quantized = Self.quantizedValues(x)
                let int8 = matrix.product(x, activations: .int8)
                let float32 = matrix.product(quantized)
                for row in 0..<matrix.rows {
                    let terms = (0..<matrix.columns).map { Double(weights[row * matrix.columns + $0]) * Double(quantized[$0]) }
                    let exact = terms.reduce(0, +), magnitude = terms.map(abs).reduce(0, +)
                    let tolerance = 1e-5 * magnitude + 1e-6
                    #expect(abs(Double(int8[row]) - exact) <= tolerance, "\(tensor.name) row \(row): int8 \(int8[row]), exact \(exact)")
                    #expect(abs(Double(float32[row]) - exact) <= tolerance, "\(tensor.name) row \(row): float32 \(float32[row]), exact \(exact)")
                }
                checked += 1
            }
        }
        #expect(checked == 4 * 5)
    }
}

extension ModelTests {
    @Suite struct Int8ActivationModelTests {
        /// The default model with int8 activations against the float32 reference: the logits
        /// move (that is why it is not the default) but stay close, and the most likely next
        /// token is the reference's for every fixture prompt.
        @Test func modelStaysCloseToTheReference() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2, activations: .int8)
            var worst: Float = 0
            for (index, prompt) in Expected.shared.prompts.enumerated() {
                let cache = engine.makeCache()
                _ = try engine.evaluate([(cache, Array(prompt.tokenIds.dropLast()))])
                // The last token alone, so the step takes the single-sequence int8 kernels.
                let logits = try engine.evaluate([(cache, [prompt.tokenIds.last!])])[0]
                let reference = Fixtures.referenceLogits("base.p\(index).logits_last")
                let error = maxAbsoluteDifference(logits, reference)
                worst = max(worst, error)
                #expect(argmax(logits) == argmax(reference), "prompt \(index): max |Δlogit| \(error)")
            }
            print("int8 activations: max |Δlogit| at the last position over \(Expected.shared.prompts.count) prompts: \(worst)")
            #expect(worst < 1)
            #expect(worst > ModelTests.ReferenceTests.logitToleranceAbsolute / 100, "int8 activations must change the logits at all")
        }
    }
}
