import Foundation
import Inference
import Testing

extension ModelTests {
    @Suite struct GenerationTests {
        @Test func greedyGenerationReproducesTheReferenceText() throws {
            let generator = TextGenerator(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2))
            let prompt = Expected.shared.prompts[0]
            var streamed = ""
            let result = try generator.generate([GenerationRequest(promptTokens: prompt.tokenIds, maxTokens: 16)]) { _, text in streamed += text }[0]
            #expect(result.tokens == Expected.shared.baseGreedy(0))
            #expect(result.text == prompt.decodedGreedyBase)
            #expect(streamed == result.text)
            #expect(result.finishReason == .length)
            #expect(Sampler.argmax(result.promptLogits) == result.tokens[0])
        }

        /// The reference continues " Paris.\n\nThe answer…": a stop string ends it early, and
        /// the streamed text never shows any part of the stop string.
        @Test func stopStringsEndGenerationBeforeTheirText() throws {
            let generator = TextGenerator(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2))
            var streamed = ""
            let request = GenerationRequest(promptTokens: Expected.shared.prompts[0].tokenIds, maxTokens: 16, stopStrings: ["\n\nThe"])
            let result = try generator.generate([request]) { _, text in streamed += text }[0]
            #expect(result.text == " Paris.")
            #expect(streamed == " Paris.")
            #expect(result.finishReason == .stopString)
            #expect(result.tokens == Array(Expected.shared.baseGreedy(0).prefix(5)))
        }

        @Test func seededSamplingRepeatsAndSeedsDiffer() throws {
            let generator = TextGenerator(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2))
            let prompt = Expected.shared.prompts[2].tokenIds
            func run(_ seed: UInt64) throws -> [Int32] {
                let sampling = SamplingParameters(temperature: 1.2, topK: 0, topP: 1, seed: seed)
                return try generator.generate([GenerationRequest(promptTokens: prompt, maxTokens: 12, sampling: sampling)])[0].tokens
            }
            let first = try run(7)
            #expect(try run(7) == first)
            let others = try [8, 9, 10].map { try run($0) }
            #expect(others.contains { $0 != first })
        }

        @Test func batchedRequestsMatchSingleRequests() throws {
            let generator = TextGenerator(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2))
            let requests = Expected.shared.prompts.indices.map { index in
                GenerationRequest(promptTokens: Expected.shared.prompts[index].tokenIds, maxTokens: 4 + index,
                                  sampling: SamplingParameters(temperature: 0.9, topK: 20, topP: 0.9, seed: UInt64(index)))
            }
            let together = try generator.generate(requests)
            for (index, request) in requests.enumerated() {
                let alone = try generator.generate([request])[0]
                #expect(together[index].tokens == alone.tokens, "request \(index)")
                #expect(together[index].tokens.count == request.maxTokens || together[index].finishReason == .endOfSequence)
            }
        }
    }

    @Suite struct EngineTests {
        @Test func rejectsBadRequestsWithoutTouchingCaches() throws {
            let model = try DefaultModel.model()
            let engine = InferenceEngine(model: model, threads: 1)
            let cache = engine.makeCache()
            #expect(throws: InferenceError.tokenOutOfRange(49152, vocabularySize: 49152)) { try engine.evaluate([(cache, [1, 49152])]) }
            #expect(throws: InferenceError.tokenOutOfRange(-1, vocabularySize: 49152)) { try engine.evaluate([(cache, [-1])]) }
            #expect(throws: InferenceError.emptyRequest) { try engine.evaluate([(cache, [])]) }
            #expect(throws: InferenceError.repeatedSequence) { try engine.evaluate([(cache, [1]), (cache, [2])]) }
            let tooLong = [Int32](repeating: 198, count: model.configuration.contextLength + 1)
            #expect(throws: InferenceError.contextFull(length: 8193, limit: 8192)) { try engine.evaluate([(cache, tooLong)]) }
            #expect(cache.length == 0)
        }

        /// One decode step over many sequences at different positions gives each the logits
        /// it gets alone, whichever kernel the batch size selects (8 rows: register kernels;
        /// 12, 20 and 27 rows: decoded tiles times transposed activations in 16 lanes, 16 + 8
        /// and 32 lanes; 40 rows: decoded tiles with OpenBLAS).
        @Test(arguments: [8, 12, 20, 27, 40])
        func batchedDecodeStepMatchesSingleSequences(streams: Int) throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let prompts = (0..<streams).map { index in
                let tokens = Expected.shared.prompts[index % Expected.shared.prompts.count].tokenIds
                return Array(tokens.prefix(2 + index))
            }
            let next = (0..<streams).map { Int32(1000 + 37 * $0) }
            let batched = prompts.map { _ in engine.makeCache() }
            _ = try engine.evaluate(zip(batched, prompts).map { ($0, $1) })
            let together = try engine.evaluate(zip(batched, next).map { ($0, [$1]) })
            for index in 0..<streams {
                let cache = engine.makeCache()
                _ = try engine.evaluate([(cache, prompts[index])])
                let alone = try engine.evaluate([(cache, [next[index]])])[0]
                #expect(maxAbsoluteDifference(together[index], alone) < 1e-3, "stream \(index)")
            }
        }

        /// A prompt longer than one forward pass gives the same logits as feeding it in two
        /// arbitrary pieces, and the register-kernel path (one row) agrees with the OpenBLAS
        /// path (many rows).
        @Test func longPromptsAndPiecewisePrefillAgree() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let base = Expected.shared.prompts.flatMap(\.tokenIds)
            let prompt = Array((0..<6).flatMap { _ in base }.prefix(InferenceEngine.batchRowsMax + 90))
            let whole = try engine.evaluate([(engine.makeCache(), prompt)])[0]
            let cache = engine.makeCache()
            _ = try engine.evaluate([(cache, Array(prompt[..<300]))])
            _ = try engine.evaluate([(cache, Array(prompt[300..<(prompt.count - 1)]))])
            let last = try engine.evaluate([(cache, [prompt[prompt.count - 1]])])[0]
            #expect(cache.length == prompt.count)
            #expect(maxAbsoluteDifference(whole, last) < 1e-3)
        }

        /// Half-precision keys and values: a prompt past the first growth of the cache (64
        /// positions, so stored rows are copied), in two prefill pieces (the block path widens
        /// them for `sgemm`), then decode steps of two streams (the single-row path reads them
        /// narrow) stay within half-precision rounding of a float32 cache, at half the bytes.
        @Test func halfPrecisionCachesTrackFloat32Caches() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let c = engine.configuration
            let prompts = [Array(Expected.shared.prompts.flatMap(\.tokenIds).prefix(90)), Expected.shared.prompts[2].tokenIds]
            var worst: Float = 0
            let wide = prompts.map { _ in KVCache(configuration: c) }, narrow = prompts.map { _ in KVCache(configuration: c, precision: .float16) }
            for caches in [wide, narrow] {
                _ = try engine.evaluate([(caches[0], Array(prompts[0][..<40]))])
            }
            var a = try engine.evaluate(zip(wide, prompts).map { cache, prompt in (cache, cache.length > 0 ? Array(prompt[40...]) : prompt) })
            var b = try engine.evaluate(zip(narrow, prompts).map { cache, prompt in (cache, cache.length > 0 ? Array(prompt[40...]) : prompt) })
            for _ in 0..<4 {
                worst = max(worst, zip(a, b).map { maxAbsoluteDifference($0, $1) }.max()!)
                let next = a.map { [argmax($0)] }
                a = try engine.evaluate(zip(wide, next).map { ($0, $1) })
                b = try engine.evaluate(zip(narrow, next).map { ($0, $1) })
            }
            worst = max(worst, zip(a, b).map { maxAbsoluteDifference($0, $1) }.max()!)
            #expect(worst < 0.05, "max |Δlogit| \(worst)")
            #expect(worst > 0, "half precision must change the logits at all")
            #expect(narrow[0].length == 94 && narrow[0].byteCount * 2 == wide[0].byteCount)
        }
    }
}

@Suite struct SamplerTests {
    static let logits: [Float] = [2.0, 1.0, 0.5, 3.0, -1.0, 2.9, 0.0, 1.5]

    @Test func greedyTakesTheFirstLargest() {
        var sampler = Sampler(.greedy)
        #expect(sampler.sample(Self.logits) == 3)
        #expect(Sampler.argmax([1, 5, 5, 2]) == 1)
    }

    @Test func topKAndTopPLimitTheChoice() {
        var topK = Sampler(SamplingParameters(temperature: 1, topK: 2, topP: 1, seed: 1))
        let drawn = Set((0..<500).map { _ in topK.sample(Self.logits) })
        #expect(drawn == [3, 5])
        var topP = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 0.3, seed: 1))
        #expect(Set((0..<200).map { _ in topP.sample(Self.logits) }) == [3])
    }

    /// A `top_k` near the vocabulary size costs what keeping every token costs (one sort per
    /// token), not `k²` (before, 40,000 of 49,152 rising logits took about a second a token);
    /// the choice stays among the `k` largest. Timed against the full sort in the same run, so
    /// a loaded machine slows both alike.
    @Test func aLargeTopKCostsNoMoreThanKeepingAll() {
        let logits = (0..<49_152).map { Float($0) / 4_096 }
        var all = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, seed: 3))
        var large = Sampler(SamplingParameters(temperature: 1, topK: 40_000, topP: 1, seed: 3))
        /// The fastest of several draws, taken in turn, so a burst of load hits neither alone.
        var fastest = (all: Double.infinity, large: Double.infinity)
        func timed(_ draw: () -> Void) -> Double {
            let elapsed = ContinuousClock().measure(draw)
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        for _ in 0..<5 {
            fastest.all = min(fastest.all, timed { _ = all.sample(logits) })
            fastest.large = min(fastest.large, timed { #expect(large.sample(logits) >= 49_152 - 40_000) })
        }
        #expect(fastest.large < 4 * fastest.all + 0.02, "top_k 40000: \(fastest.large) s a draw, all tokens: \(fastest.all) s")
        var nucleus = Sampler(SamplingParameters(temperature: 1, topK: 300, topP: 0.5, seed: 3))
        #expect((0..<50).allSatisfy { _ in nucleus.sample(logits) >= 49_152 - 300 })
    }

    /// With a fixed seed the draw is deterministic, so this frequency check cannot flake:
    /// 20 000 draws land within 2% of the softmax probabilities.
    @Test func temperatureSamplingFollowsTheSoftmax() {
        let temperature: Float = 0.7
        var sampler = Sampler(SamplingParameters(temperature: temperature, topK: 0, topP: 1, seed: 42))
        var counts = [Int](repeating: 0, count: Self.logits.count)
        let draws = 20_000
        for _ in 0..<draws { counts[Int(sampler.sample(Self.logits))] += 1 }
        let weights = Self.logits.map { exp(Double($0 / temperature)) }
        let total = weights.reduce(0, +)
        for index in Self.logits.indices {
            #expect(abs(Double(counts[index]) / Double(draws) - weights[index] / total) < 0.02, "token \(index)")
        }
    }
}
