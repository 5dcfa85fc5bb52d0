import Foundation
import Inference
import Testing

extension ModelTests {
    /// Adapters applied unmerged in the forward pass, against the transformers + peft reference.
    @Suite struct LoRAEngineTests {
        static let tolerance: Float = 1e-2

        /// Every (prompt, adapter-or-base) case of the reference.
        static var cases: [(prompt: Int, adapter: String?)] {
            Expected.shared.prompts.indices.flatMap { prompt in ([nil] + AdapterFixtures.names).map { (prompt, $0) } }
        }

        static func reference(_ adapter: String?, prompt: Int) -> [Float] {
            adapter.map { AdapterFixtures.referenceLogits($0, prompt: prompt) } ?? Fixtures.referenceLogits("base.p\(prompt).logits_last")
        }

        /// The logits of the reference prompts numbered `prompts`, prefilled together on
        /// `adapter`, then of `steps` greedy decode steps of all of them: one array per row.
        static func greedy(_ engine: InferenceEngine, prompts: [Int], adapter: LoRAAdapter, steps: Int) throws -> [[Float]] {
            let tokens = prompts.map { Expected.shared.prompts[$0].tokenIds }
            let caches = tokens.map { _ in engine.makeCache() }
            var logits = try engine.evaluate(zip(caches, tokens).map { ($0, $1, adapter) })
            var all = logits
            for _ in 0..<steps {
                logits = try engine.evaluate(zip(caches, logits).map { ($0, [argmax($1)], adapter) })
                all += logits
            }
            return all
        }

        /// Whether `generated` (always 16 tokens) starts with the reference's tokens; the
        /// reference stops early only at an end-of-sequence token (`<|im_end|>`, id 2).
        static func matches(_ generated: [Int32], _ reference: [Int32]) -> Bool {
            (reference.count == Expected.shared.newTokens || reference.last == 2) && Array(generated.prefix(reference.count)) == reference
        }

        @Test func lastPositionLogitsMatchTheReferencePerAdapter() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            for name in AdapterFixtures.names {
                let adapter = try AdapterFixtures.adapter(name)
                var worst: Float = 0
                for (index, prompt) in Expected.shared.prompts.enumerated() {
                    let logits = try engine.evaluate([(engine.makeCache(), prompt.tokenIds, adapter)])[0]
                    let error = maxAbsoluteDifference(logits, AdapterFixtures.referenceLogits(name, prompt: index))
                    #expect(error < Self.tolerance, "\(name), prompt \(index): max |Δlogit| = \(error)")
                    // The adapter must matter: its logits are far from the base's.
                    #expect(maxAbsoluteDifference(logits, Fixtures.referenceLogits("base.p\(index).logits_last")) > 0.1)
                    worst = max(worst, error)
                }
                print("\(name): max |Δlogit| at the last position over \(Expected.shared.prompts.count) prompts: \(worst)")
            }
        }

        /// Each (prompt, adapter) alone: prefill, then one token at a time.
        @Test func greedyContinuationsMatchPerAdapter() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            for name in AdapterFixtures.names {
                let adapter = try AdapterFixtures.adapter(name)
                for (index, prompt) in Expected.shared.prompts.enumerated() {
                    let cache = engine.makeCache()
                    var logits = try engine.evaluate([(cache, prompt.tokenIds, adapter)])[0]
                    var generated: [Int32] = []
                    for _ in 0..<Expected.shared.newTokens {
                        generated.append(argmax(logits))
                        logits = try engine.evaluate([(cache, [generated.last!], adapter)])[0]
                    }
                    #expect(Self.matches(generated, Expected.shared.greedy(adapter: name, prompt: index)), "\(name), prompt \(index): \(generated)")
                }
            }
        }

        /// All prompts × {base, three adapters} as one batch, in several orders: one batched
        /// prefill, then batched decode steps, every request at its own position with its own
        /// adapter. Results equal the reference and do not depend on the order.
        @Test func mixedBatchesMatchInAnyOrder() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let adapters = try Dictionary(uniqueKeysWithValues: AdapterFixtures.names.map { ($0, try AdapterFixtures.adapter($0)) })
            var random = SplitMix64(seed: 0x4C6F_5241)
            let cases = Self.cases
            let orders = [Array(cases.indices), cases.indices.reversed(), cases.indices.shuffled(using: &random), cases.indices.shuffled(using: &random)]
            var firstLogits: [[Float]]?
            for order in orders {
                let caches = order.map { _ in engine.makeCache() }
                let requests = zip(order, caches).map { index, cache in
                    (cache: cache, tokens: Expected.shared.prompts[cases[index].prompt].tokenIds, adapter: cases[index].adapter.map { adapters[$0]! })
                }
                var logits = try engine.evaluate(requests)
                var inCaseOrder = [[Float]](repeating: [], count: cases.count)
                for (slot, index) in order.enumerated() {
                    inCaseOrder[index] = logits[slot]
                    let error = maxAbsoluteDifference(logits[slot], Self.reference(cases[index].adapter, prompt: cases[index].prompt))
                    #expect(error < Self.tolerance, "\(cases[index]): max |Δlogit| = \(error)")
                }
                if let firstLogits {
                    for index in cases.indices { #expect(maxAbsoluteDifference(firstLogits[index], inCaseOrder[index]) < 1e-4) }
                } else {
                    firstLogits = inCaseOrder
                }
                var generated = [[Int32]](repeating: [], count: order.count)
                for _ in 0..<Expected.shared.newTokens {
                    let next = logits.map(argmax)
                    for slot in order.indices { generated[slot].append(next[slot]) }
                    logits = try engine.evaluate(zip(requests, next).map { ($0.cache, [$1], $0.adapter) })
                }
                for (slot, index) in order.enumerated() {
                    #expect(Self.matches(generated[slot], Expected.shared.greedy(adapter: cases[index].adapter, prompt: cases[index].prompt)), "\(cases[index])")
                }
            }
        }

        /// A decode step of many streams with mixed adapters gives each stream the logits it
        /// gets decoding alone.
        @Test func batchedDecodeStepEqualsEachStreamAlone() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let adapters = try [nil] + AdapterFixtures.names.map { try AdapterFixtures.adapter($0) }
            let streams = (0..<12).map { (prompt: Expected.shared.prompts[$0 % 6].tokenIds, adapter: adapters[($0 * 7) % 4]) }
            let batched = streams.map { _ in engine.makeCache() }, alone = streams.map { _ in engine.makeCache() }
            let first = try engine.evaluate(zip(batched, streams).map { ($0, $1.prompt, $1.adapter) }).map(argmax)
            var singles: [Int32] = []
            for (cache, stream) in zip(alone, streams) { singles.append(argmax(try engine.evaluate([(cache, stream.prompt, stream.adapter)])[0])) }
            #expect(first == singles)
            let step = try engine.evaluate(zip(batched, zip(streams, first)).map { ($0, [$1.1], $1.0.adapter) })
            for (index, (cache, stream)) in zip(alone, streams).enumerated() {
                let single = try engine.evaluate([(cache, [first[index]], stream.adapter)])[0]
                #expect(maxAbsoluteDifference(step[index], single) < 1e-3, "stream \(index)")
            }
        }

        /// A 16-bit adapter gives bit for bit the logits of the float32 adapter with the same
        /// values, through the prefill (`sgemm` on widened copies) and decode (register) kernels.
        @Test func halfPrecisionAdaptersGiveTheLogitsOfTheirFloat32Values() throws {
            let model = try DefaultModel.model()
            let engine = InferenceEngine(model: model, threads: 2)
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            for type in [TensorType.f16, .bf16] {
                let path = directory.appendingPathComponent("\(type)").path
                try AdapterFixtures.adapter("all-r16").writePEFT(to: path, type: type)
                let narrow = try LoRAAdapter.load(path: path, for: model.configuration)
                let wide = try LoRAAdapter.make(name: "wide", configuration: model.configuration, pairs: narrow.pairs())
                // The same batch for each (row positions in a batch can change sgemm's rounding).
                let prompts = [5, 0]
                #expect(try Self.greedy(engine, prompts: prompts, adapter: narrow, steps: 3) == Self.greedy(engine, prompts: prompts, adapter: wide, steps: 3), "\(type)")
            }
        }

        /// Ranks that are not a multiple of the decode kernels' steps (eight rows of `A` per
        /// pass, two of `B`) give the logits of the same adapter padded with zero rank rows to
        /// 16: for a prompt, and decode steps of three streams sharing the adapter (rows taken
        /// two at a time, then one). 16-bit factors go through the same kernels widened.
        @Test func oddRanksGiveTheLogitsOfTheirZeroPaddedForm() throws {
            let model = try DefaultModel.model()
            let c = model.configuration
            let engine = InferenceEngine(model: model, threads: 2)
            var random = SplitMix64(seed: 11)
            func uniform(_ count: Int, _ amplitude: Float) -> [Float] { (0..<count).map { _ in Float.random(in: -amplitude...amplitude, using: &random) } }
            /// `pair` with zero rows of `A` and zero columns of `B` up to rank 16.
            func padded(_ pair: LoRAPair) -> LoRAPair {
                let extra = 16 - pair.rank, inputs = pair.a.count / pair.rank, outputs = pair.b.count / pair.rank
                var wide = pair
                wide.rank = 16
                wide.a += [Float](repeating: 0, count: extra * inputs)
                wide.b = (0..<outputs).flatMap { row in pair.b[(row * pair.rank)..<((row + 1) * pair.rank)] + [Float](repeating: 0, count: extra) }
                return wide
            }
            for rank in [3, 5, 13] {
                let pairs = [0, 11, c.layerCount - 1].flatMap { layer in
                    Projection.allCases.map { projection in
                        let (inputs, outputs) = projection.shape(c)
                        return LoRAPair(layer: layer, projection: projection, rank: rank, scale: 2,
                                        a: uniform(rank * inputs, 0.5 / Float(inputs).squareRoot()), b: uniform(outputs * rank, 0.05))
                    }
                }
                let odd = try LoRAAdapter.make(name: "r\(rank)", configuration: c, pairs: pairs)
                let even = try LoRAAdapter.make(name: "r\(rank) padded", configuration: c, pairs: pairs.map(padded))
                let directory = Fixtures.temporaryDirectory()
                defer { try? FileManager.default.removeItem(at: directory) }
                try odd.writePEFT(to: directory.path, type: .bf16)
                let narrow = try LoRAAdapter.load(path: directory.path, for: c)
                let narrowPadded = try LoRAAdapter.make(name: "bf16 padded", configuration: c, pairs: narrow.pairs().map(padded))
                for (adapter, reference) in [(odd, even), (narrow, narrowPadded)] {
                    let got = try Self.greedy(engine, prompts: [0, 1, 2], adapter: adapter, steps: 2)
                    let expected = try Self.greedy(engine, prompts: [0, 1, 2], adapter: reference, steps: 2)
                    for (index, (got, expected)) in zip(got, expected).enumerated() {
                        #expect(maxAbsoluteDifference(got, expected) < 1e-3, "rank \(rank), \(adapter.name), row \(index)")
                    }
                }
            }
        }

        @Test func ggufFormGivesTheSameLogitsAndMismatchedAdaptersAreRefused() throws {
            let model = try DefaultModel.model()
            let engine = InferenceEngine(model: model, threads: 2)
            let adapter = try AdapterFixtures.adapter("all-r16")
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try adapter.writeGGUF(to: directory.appendingPathComponent("all.gguf").path)
            let fromGGUF = try LoRAAdapter.load(path: directory.appendingPathComponent("all.gguf").path, for: model.configuration)
            let prompt = Expected.shared.prompts[1].tokenIds
            #expect(try engine.evaluate([(engine.makeCache(), prompt, fromGGUF)]) == engine.evaluate([(engine.makeCache(), prompt, adapter)]))

            var other = model.configuration
            other.contextLength = 1024
            let foreign = try LoRAAdapter.make(name: "foreign", configuration: other, pairs: adapter.pairs())
            let cache = engine.makeCache()
            #expect(throws: InferenceError.adapterMismatch("foreign")) { try engine.evaluate([(cache, prompt, foreign)]) }
            #expect(cache.length == 0)
        }
    }
}
