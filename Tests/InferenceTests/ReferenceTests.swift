import Foundation
import Inference
import Testing

extension ModelTests {
    /// The engine against the PyTorch fp32 reference run of the same GGUF.
    @Suite struct ReferenceTests {
        /// Agreement the issue requires for logits, in absolute terms.
        static let logitToleranceAbsolute: Float = 1e-2

        @Test func lastPositionLogitsMatchTheReference() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            var worst: Float = 0
            for (index, prompt) in Expected.shared.prompts.enumerated() {
                let logits = try engine.evaluate([(engine.makeCache(), prompt.tokenIds)])[0]
                let error = maxAbsoluteDifference(logits, Fixtures.referenceLogits("base.p\(index).logits_last"))
                #expect(error < Self.logitToleranceAbsolute, "prompt \(index): max |Δlogit| = \(error)")
                worst = max(worst, error)
            }
            print("max |Δlogit| at the last position over \(Expected.shared.prompts.count) prompts: \(worst)")
        }

        @Test func firstPositionLogitsMatchTheReference() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 1)
            var worst: Float = 0
            for (index, prompt) in Expected.shared.prompts.enumerated() {
                let logits = try engine.evaluate([(engine.makeCache(), [prompt.tokenIds[0]])])[0]
                worst = max(worst, maxAbsoluteDifference(logits, Fixtures.referenceLogits("base.p\(index).logits_first")))
            }
            #expect(worst < Self.logitToleranceAbsolute)
            print("max |Δlogit| at the first position: \(worst)")
        }

        /// Each prompt alone: prefill, then one token at a time.
        @Test func greedyContinuationsMatchTokenForToken() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            for (index, prompt) in Expected.shared.prompts.enumerated() {
                let cache = engine.makeCache()
                var logits = try engine.evaluate([(cache, prompt.tokenIds)])[0]
                var generated: [Int32] = []
                for _ in 0..<Expected.shared.newTokens {
                    let next = argmax(logits)
                    generated.append(next)
                    logits = try engine.evaluate([(cache, [next])])[0]
                }
                #expect(generated == Expected.shared.baseGreedy(index), "prompt \(index)")
            }
        }

        /// All prompts at once: one batched prefill of sequences of different lengths, then
        /// batched decode steps with every sequence at its own position.
        @Test func batchedGreedyContinuationsMatchTokenForToken() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let prompts = Expected.shared.prompts
            let caches = prompts.map { _ in engine.makeCache() }
            var logits = try engine.evaluate(zip(caches, prompts.map(\.tokenIds)).map { ($0, $1) })
            var generated = [[Int32]](repeating: [], count: prompts.count)
            for _ in 0..<Expected.shared.newTokens {
                let next = logits.map(argmax)
                for index in prompts.indices { generated[index].append(next[index]) }
                logits = try engine.evaluate(zip(caches, next).map { ($0, [$1]) })
            }
            for index in prompts.indices {
                #expect(generated[index] == Expected.shared.baseGreedy(index), "prompt \(index)")
            }
        }
    }
}

func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "compared vectors differ in length: \(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func argmax(_ values: [Float]) -> Int32 {
    Int32(values.indices.max { values[$0] < values[$1] }!)
}
