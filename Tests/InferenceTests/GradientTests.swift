import Foundation
import Inference
import Testing

extension ModelTests {
    /// The backward pass against PyTorch's LoRA gradients (`adapter-gradients.safetensors`)
    /// and against finite differences of the engine's own loss.
    @Suite struct GradientTests {
        static let gradients: SafetensorsFile = try! SafetensorsFile(path: Fixtures.url("adapter-gradients.safetensors").path)

        /// The loss of reference prompt 0 with labels = inputs, as the fixture defines it.
        static var promptZero: TrainingSequence { TrainingSequence(tokens: Expected.shared.prompts[0].tokenIds) }

        static func parameters(_ adapter: String) throws -> LoRAParameters {
            let adapter = try AdapterFixtures.adapter(adapter)
            return try LoRAParameters(pairs: adapter.pairs(), configuration: adapter.configuration)
        }

        @Test(arguments: AdapterFixtures.names)
        func lossAndGradientsMatchPyTorch(adapter name: String) throws {
            let engine = GradientEngine(model: try DefaultModel.model(), threads: 2)
            let parameters = try Self.parameters(name)
            let result = try engine.lossAndGradient([Self.promptZero], parameters: parameters)
            let referenceLoss = Double(Self.gradients.tensor("\(name).p0.loss")!.floats()[0])
            #expect(abs(result.loss - referenceLoss) / referenceLoss <= 1e-4, "loss \(result.loss) vs \(referenceLoss)")

            var compared = 0
            for pair in parameters.pairs(of: result.gradient) {
                let path = "model.layers.\(pair.layer).\([.gate, .up, .down].contains(pair.projection) ? "mlp" : "self_attn").\(pair.projection.rawValue)"
                for (factor, values) in [("A", pair.a), ("B", pair.b)] {
                    guard let reference = Self.gradients.tensor("\(name).grad.\(path).lora_\(factor).weight")?.floats() else { continue }
                    let (relative, cosine) = Self.compare(values, reference)
                    #expect(relative <= 1e-3 && cosine >= 0.9999, "\(name) \(path) lora_\(factor): relative error \(relative), cosine \(cosine)")
                    compared += 1
                }
            }
            // Layers 0, 14 and 29 of every adapted module, A and B.
            #expect(compared == 6 * Set(parameters.modules.map(\.projection)).count)
        }

        /// Engines of one, two and three threads give bit-identical losses and gradients for the
        /// same batch (whichever thread takes which chunk), with large and small batches.
        @Test func runsAreBitIdenticalAcrossThreadCounts() throws {
            let model = try DefaultModel.model()
            let parameters = try Self.parameters("all-r16")
            let tokens = Expected.shared.prompts.flatMap(\.tokenIds)
            let large = (0..<3).map { TrainingSequence(tokens: Array((tokens + tokens)[$0..<($0 + 40)])) }
            for batch in [[Self.promptZero], large] {
                let first = try GradientEngine(model: model, threads: 2).lossAndGradient(batch, parameters: parameters)
                for threads in [2, 1, 3] {
                    let again = try GradientEngine(model: model, threads: threads).lossAndGradient(batch, parameters: parameters)
                    #expect(first.loss.bitPattern == again.loss.bitPattern, "\(threads) threads, \(batch.count) sequences")
                    #expect(first.gradient.map(\.bitPattern) == again.gradient.map(\.bitPattern), "\(threads) threads, \(batch.count) sequences")
                }
            }
        }

        /// The gradient from an inference engine's recorded forward pass (here the prompt, then
        /// the rest in one pass) is the training pass's up to float32 rounding, with
        /// every projection adapted; engines of one, two and three threads record the same
        /// bits; and a record of other tokens is refused.
        @Test func recordedForwardGivesTheTrainingGradient() throws {
            let model = try DefaultModel.model()
            let adapter = try AdapterFixtures.adapter("all-r16")
            let parameters = try LoRAParameters(pairs: adapter.pairs(), configuration: adapter.configuration)
            let tokens = Expected.shared.prompts[0].tokenIds, firstTarget = Expected.shared.prompts[0].tokenIds.count / 2
            let sequence = TrainingSequence(tokens: tokens, firstTarget: firstTarget)
            let engine = GradientEngine(model: model, threads: 2)
            func recorded(threads: Int, tokens: [Int32] = tokens) throws -> RecordedSequence {
                let inference = InferenceEngine(model: model, threads: threads)
                let recorded = RecordedSequence(engine: inference, rowsMax: tokens.count - 1)
                _ = try inference.evaluate([(recorded.cache, Array(tokens[..<firstTarget]), adapter)])
                _ = try inference.evaluate([(recorded.cache, Array(tokens[firstTarget..<(tokens.count - 1)]), adapter)])
                return recorded
            }
            // A fresh engine: the recorded pass must reserve its own working memory.
            let first = try engine.lossAndGradient(sequence, recorded: try recorded(threads: 2), parameters: parameters)
            let trained = try engine.lossAndGradient([sequence], parameters: parameters)
            #expect(first.targetCount == trained.targetCount && abs(first.loss - trained.loss) / trained.loss <= 1e-5, "\(first.loss) vs \(trained.loss)")
            let (relative, cosine) = Self.compare(first.gradient, trained.gradient)
            #expect(relative <= 1e-3 && cosine >= 0.99999, "relative \(relative), cosine \(cosine)")
            for threads in [1, 3] {
                let again = try engine.lossAndGradient(sequence, recorded: try recorded(threads: threads), parameters: parameters)
                #expect(again.loss.bitPattern == first.loss.bitPattern && again.gradient.map(\.bitPattern) == first.gradient.map(\.bitPattern), "\(threads) threads")
            }
            var other = tokens
            other[2] = other[2] == 1 ? 2 : 1
            #expect(throws: TrainingError.recordMismatch(rows: tokens.count - 1)) {
                try engine.lossAndGradient(sequence, recorded: try recorded(threads: 1, tokens: other), parameters: parameters)
            }
        }

        /// A batch of sequences of different lengths is the target-weighted mean of its
        /// sequences on their own, and its per-sequence gradients are theirs: nothing leaks
        /// between sequences laid end to end.
        @Test func batchIsTheTargetWeightedMeanOfItsSequences() throws {
            let engine = GradientEngine(model: try DefaultModel.model(), threads: 2)
            let parameters = try Self.parameters("qv-r8")
            // 25 rows together and each sequence alone give sgemm other shapes, so other summation orders.
            let sequences = [
                Self.promptZero, TrainingSequence(tokens: Expected.shared.prompts[3].tokenIds, firstTarget: 4),
                TrainingSequence(tokens: Expected.shared.prompts[2].tokenIds, firstTarget: 2),
            ]
            let alone = try sequences.map { try engine.lossAndGradient([$0], parameters: parameters) }
            let batch = try engine.lossAndGradient(sequences, parameters: parameters)
            let total = Double(alone.reduce(0) { $0 + $1.targetCount })
            #expect(batch.targetCount == Int(total))
            let loss = alone.reduce(0.0) { $0 + $1.loss * Double($1.targetCount) } / total
            #expect(abs(batch.loss - loss) / loss <= 1e-5, "batch loss \(batch.loss), weighted mean \(loss)")
            let mean = batch.gradient.indices.map { index in
                Float(alone.reduce(0.0) { $0 + Double($1.gradient[index]) * Double($1.targetCount) } / total)
            }
            let (relative, cosine) = Self.compare(batch.gradient, mean)
            #expect(relative <= 1e-3 && cosine >= 0.99999, "relative \(relative), cosine \(cosine)")

            let each = try engine.sequenceGradients(sequences, parameters: parameters)
            for (own, single) in zip(each, alone) {
                #expect(own.targetCount == single.targetCount && abs(own.loss - single.loss) / single.loss <= 1e-5)
                let (relative, cosine) = Self.compare(own.gradient, single.gradient)
                // Alone, a sequence's products are other sgemm shapes than in the batch: float32 sums in other orders.
                #expect(relative <= 1e-3 && cosine >= 0.99999, "per sequence: relative \(relative), cosine \(cosine)")
            }
        }

        /// Central differences of the engine's own loss against its analytic gradient: along
        /// the whole gradient's direction (the derivative is ‖g‖), and at single coordinates
        /// — the largest of each `A` and `B` of four module kinds in the first and last
        /// layers — each stepped so the loss moves by about 3e-4 nats, well above the float32
        /// loss's rounding (about 1e-6 of 3 nats).
        @Test func gradientMatchesFiniteDifferences() throws {
            let engine = GradientEngine(model: try DefaultModel.model(), threads: 2)
            var parameters = try Self.parameters("all-r16")
            let batch = [Self.promptZero, TrainingSequence(tokens: Expected.shared.prompts[1].tokenIds, firstTarget: 3)]
            let analytic = try engine.lossAndGradient(batch, parameters: parameters).gradient
            let original = parameters.values

            func centralDifference(_ direction: (Int) -> Float, step: Float) throws -> Double {
                parameters.values = original.indices.map { original[$0] + step * direction($0) }
                let plus = try engine.lossAndGradient(batch, parameters: parameters).loss
                parameters.values = original.indices.map { original[$0] - step * direction($0) }
                let minus = try engine.lossAndGradient(batch, parameters: parameters).loss
                return (plus - minus) / (2 * Double(step))
            }

            let norm = analytic.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let along = try centralDifference({ analytic[$0] / Float(norm) }, step: 1e-2)
            #expect(abs(along - norm) / norm <= 0.01, "along the gradient: numeric \(along), analytic \(norm)")

            var checked = 0
            for module in parameters.modules where [0, 29].contains(module.layer) && [.query, .value, .gate, .down].contains(module.projection) {
                for range in [module.aOffset..<module.bOffset, module.bOffset..<(module.aOffset + module.count)] {
                    let index = range.max { abs(analytic[$0]) < abs(analytic[$1]) }!
                    let step = min(0.1, max(1e-3, 3e-4 / abs(analytic[index])))
                    let numeric = try centralDifference({ $0 == index ? 1 : 0 }, step: step)
                    let error = abs(numeric - Double(analytic[index])) / abs(numeric)
                    #expect(error <= 0.05, "\(module.projection.rawValue) of layer \(module.layer) [\(index)]: numeric \(numeric), analytic \(analytic[index])")
                    checked += 1
                }
            }
            #expect(checked == 16)
        }

        /// ‖g − ref‖ / ‖ref‖ and cos(g, ref), in float64.
        static func compare(_ values: [Float], _ reference: [Float]) -> (relative: Double, cosine: Double) {
            precondition(values.count == reference.count)
            var difference = 0.0, norm = 0.0, own = 0.0, dot = 0.0
            for (x, y) in zip(values, reference) {
                let (a, b) = (Double(x), Double(y))
                difference += (a - b) * (a - b)
                norm += b * b
                own += a * a
                dot += a * b
            }
            return ((difference / norm).squareRoot(), dot / (own * norm).squareRoot())
        }
    }
}
