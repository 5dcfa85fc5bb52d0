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

    /// The parser's sample file plus random Q8_0, Q4_1 and Q4_0 matrices of three rows of four,
    /// two and four blocks, with a −128 among the Q8_0 values, and a Q4_1 matrix of 37 rows
    /// (more than two of the broadcast kernels' 16-row groups).
    static func matrices(in directory: URL) throws -> [TensorData] {
        var builder = GGUFParserTests.sample()
        var random = SplitMix64(seed: 0x5a_4d1e)
        func scale() -> [UInt8] { halfBytes(Float16(Float.random(in: 0.01...0.2, using: &random))) }
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
        var q8: [UInt8] = [], q41: [UInt8] = [], q40: [UInt8] = []
        for _ in 0..<(3 * 4) { q8 += scale() + bytes(32) }
        q8[2] = 0x80
        for _ in 0..<(3 * 2) { q41 += scale() + halfBytes(Float16(Float.random(in: -1...1, using: &random))) + bytes(16) }
        for _ in 0..<(3 * 4) { q40 += scale() + bytes(16) }
        var tall: [UInt8] = []
        for _ in 0..<(37 * 2) { tall += scale() + halfBytes(Float16(Float.random(in: -1...1, using: &random))) + bytes(16) }
        builder.tensors += [
            .init(name: "q8_0_random", dimensions: [128, 3], type: 8, data: q8),
            .init(name: "q4_1_random", dimensions: [64, 3], type: 3, data: q41),
            .init(name: "q4_0_random", dimensions: [128, 3], type: 2, data: q40),
            .init(name: "q4_1_tall", dimensions: [64, 37], type: 3, data: tall),
        ]
        return try GGUFFile(path: write(builder.bytes(), named: "int8.gguf", in: directory)).tensors
    }

    /// The Q4_0, Q4_1 and Q8_0 matrices of `matrices(in:)`, each with its values as float32.
    static func quantizedMatrices(in directory: URL) throws -> [(tensor: TensorData, matrix: WeightMatrix, weights: [Float])] {
        try matrices(in: directory).filter { [.q4_0, .q4_1, .q8_0].contains($0.type) }.map { ($0, try WeightMatrix($0), $0.floats()) }
    }

    /// For every Q4_0, Q4_1 and Q8_0 matrix of `matrices` (rows of one to four blocks, so Q4
    /// pairs that end half empty too) and batches that take each kernel
    /// (1–4 vectors: int8 row kernels; 12 and 27: int8 broadcast kernels; 6 and 40, where int8
    /// is not used: float32 row kernels and OpenBLAS on float32 tiles): the int8 products equal
    /// the products with the quantized activations (or, for 6 and 40, the activations
    /// themselves) up to float rounding, computed in double precision, and the float32
    /// products of the quantized activations equal them too.
    @Test(arguments: [1, 3, 6, 12, 27, 40])
    func kernelsComputeTheProductWithTheQuantizedActivations(batch: Int) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: UInt64(0x1_2808 + batch))
        var checked = 0
        for (tensor, matrix, weights) in try Self.quantizedMatrices(in: directory) {
            let vectors = (0..<batch).map { index -> [Float] in
                var x = (0..<matrix.columns).map { _ in Float.random(in: -2...2, using: &random) }
                x[Int.random(in: 0..<matrix.columns, using: &random)] = 9  // an outlier sets its block's scale
                if index % 3 == 0, matrix.columns > 32 {  // an all-zero block has scale 0
                    for c in (matrix.columns - 32)..<matrix.columns { x[c] = 0 }
                }
                return x
            }
            let quantized = vectors.map(Self.quantizedValues)
            let int8Applies = batch <= 4 || (9...32).contains(batch)
            let int8 = matrix.products(vectors, activations: .int8)
            let float32 = matrix.products(quantized)
            func expectProducts(_ results: [[Float]], of inputs: [[Float]], _ label: String) {
                for (index, x) in inputs.enumerated() {
                    for row in 0..<matrix.rows {
                        let terms = (0..<matrix.columns).map { Double(weights[row * matrix.columns + $0]) * Double(x[$0]) }
                        let exact = terms.reduce(0, +), tolerance = 1e-5 * terms.map(abs).reduce(0, +) + 1e-6
                        #expect(abs(Double(results[index][row]) - exact) <= tolerance, "\(tensor.name) \(label) vector \(index) row \(row): \(results[index][row]), exact \(exact)")
                    }
                }
            }
            expectProducts(int8, of: int8Applies ? quantized : vectors, "int8")
            expectProducts(float32, of: quantized, "float32")
            checked += 1
        }
        #expect(checked == 9)
    }

    /// The backward pass's transposed product `dy·W` on every quantized test matrix (from one
    /// row, fewer than `MatrixMultiply.transposedParts` so that some parts are empty, to 37)
    /// equals the exact product, and one, two and three threads give the same bits.
    @Test(arguments: [1, 5, 40])
    func transposedProductsAreExactAndIndependentOfThreads(batch: Int) throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: UInt64(0x7_2a05 + batch))
        var checked = 0
        for (tensor, matrix, weights) in try Self.quantizedMatrices(in: directory) {
            let gradients = (0..<batch).map { _ in (0..<matrix.rows).map { _ in Float.random(in: -2...2, using: &random) } }
            let products = matrix.transposedProducts(gradients, threads: 2)
            for (index, dy) in gradients.enumerated() {
                for column in 0..<matrix.columns {
                    let terms = (0..<matrix.rows).map { Double(dy[$0]) * Double(weights[$0 * matrix.columns + column]) }
                    let exact = terms.reduce(0, +), tolerance = 1e-5 * terms.map(abs).reduce(0, +) + 1e-6
                    #expect(abs(Double(products[index][column]) - exact) <= tolerance, "\(tensor.name) vector \(index) column \(column): \(products[index][column]), exact \(exact)")
                }
            }
            for threads in [1, 3] {
                #expect(matrix.transposedProducts(gradients, threads: threads).map { $0.map(\.bitPattern) } == products.map { $0.map(\.bitPattern) }, "\(tensor.name), \(threads) threads")
            }
            checked += 1
        }
        #expect(checked == 9)
    }
}

extension ModelTests {
    @Suite struct Int8ActivationModelTests {
        /// The default model with int8 activations against the float32 reference: the logits
        /// move (that is why it is not the default) but stay close, and the most likely next
        /// token is the reference's for every fixture prompt — or, where the reference itself
        /// has a near tie (prompt 2: tokens 15487 and 5325 differ by 0.002), a token the
        /// reference scores within `nearTie` of its best.
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
                let nearTie: Float = 0.01
                #expect(reference[Int(argmax(logits))] >= reference[Int(argmax(reference))] - nearTie, "prompt \(index): max |Δlogit| \(error)")
            }
            print("int8 activations: max |Δlogit| at the last position over \(Expected.shared.prompts.count) prompts: \(worst)")
            #expect(worst < 1.5)
            #expect(worst > ModelTests.ReferenceTests.logitToleranceAbsolute / 100, "int8 activations must change the logits at all")
        }

        /// Batches that take the int8 row kernels (3 sequences) and the int8 broadcast kernels
        /// (12, 27) stay as close to the float32 logits of the same decode step as one sequence
        /// does (`modelStaysCloseToTheReference`). They are not equal to each sequence alone:
        /// float rounding that differs between kernels moves some value across a quantization
        /// step, and the difference grows through the layers to the size of the quantization
        /// noise itself.
        @Test(arguments: [3, 12, 27])
        func batchedDecodeStaysCloseToFloat32(streams: Int) throws {
            let model = try DefaultModel.model()
            let exact = InferenceEngine(model: model, threads: 2)
            let engine = InferenceEngine(model: model, threads: 2, activations: .int8)
            let prompts = (0..<streams).map { index in
                Array(Expected.shared.prompts[index % Expected.shared.prompts.count].tokenIds.prefix(2 + index))
            }
            let next = (0..<streams).map { Int32(1000 + 37 * $0) }
            func decodeStep(_ engine: InferenceEngine) throws -> [[Float]] {
                let caches = prompts.map { _ in exact.makeCache() }
                _ = try exact.evaluate(zip(caches, prompts).map { ($0, $1) })
                return try engine.evaluate(zip(caches, next).map { ($0, [$1]) })
            }
            let reference = try decodeStep(exact), quantized = try decodeStep(engine)
            var worst: Float = 0
            for index in 0..<streams {
                let error = maxAbsoluteDifference(quantized[index], reference[index])
                worst = max(worst, error)
                #expect(error < 1.5, "stream \(index)")
            }
            #expect(worst > ModelTests.ReferenceTests.logitToleranceAbsolute / 100, "int8 activations must change the logits at all")
            print("int8 activations, \(streams) streams: max |Δlogit| against float32: \(worst)")
        }
    }
}
