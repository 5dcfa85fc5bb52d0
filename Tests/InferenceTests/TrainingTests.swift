import Foundation
import Inference
import Testing

/// The optimizer, the schedule and the datanet reader on their own.
@Suite struct TrainingPartsTests {
    @Test func adamWFirstStepMovesEachParameterByTheLearningRateAgainstItsGradient() {
        var values: [Float] = [1, -2, 0.5, 3]
        let gradient: [Float] = [0.3, -1e-3, 20, 0]
        var optimizer = AdamW(count: 4, weightDecay: 0.1)
        optimizer.update(&values, gradient: gradient, learningRate: 0.01)
        // Bias correction makes the first step m̂/√v̂ = g/|g|; decay first shrinks θ by lr·λ.
        let expected: [Float] = [1 * 0.999 - 0.01, -2 * 0.999 + 0.01, 0.5 * 0.999 - 0.01, 3 * 0.999]
        for (value, want) in zip(values, expected) { #expect(abs(value - want) < 1e-5, "\(value) vs \(want)") }
        #expect(optimizer.step == 1)
    }

    /// The kernels OpenBLAS runs are the best this CPU supports (make exports
    /// `OPENBLAS_CORETYPE` for the test process; the executable restarts itself with it).
    @Test func openBLASRunsTheKernelsThisCPUSupports() {
        if let core = BLASKernels.supportedCore {
            #expect(BLASKernels.coreName == core, "OpenBLAS runs \(BLASKernels.coreName): run the tests through make, or export OPENBLAS_CORETYPE=\(core)")
        }
    }

    @Test func clippingScalesToTheMaximumNormOnlyWhenAbove() {
        var large: [Float] = [3, 4]
        #expect(clipGradientNorm(&large, maximum: 1) == 5)
        #expect(abs((large[0] * large[0] + large[1] * large[1]).squareRoot() - 1) < 1e-5)
        var small: [Float] = [0.3, 0.4]
        clipGradientNorm(&small, maximum: 1)
        #expect(small == [0.3, 0.4])
    }

    @Test func peftInitialisationIsSeededUniformAAndZeroB() throws {
        let c = try DefaultModel.model().configuration
        let one = LoRAParameters.initialized(configuration: c, layers: [0, 5], projections: [.query, .down], rank: 4, alpha: 8, seed: 3)
        let again = LoRAParameters.initialized(configuration: c, layers: [0, 5], projections: [.query, .down], rank: 4, alpha: 8, seed: 3)
        let other = LoRAParameters.initialized(configuration: c, layers: [0, 5], projections: [.query, .down], rank: 4, alpha: 8, seed: 4)
        #expect(one == again && one.values != other.values)
        for module in one.modules {
            let a = one.values[module.aOffset..<module.bOffset], b = one.values[module.bOffset..<(module.aOffset + module.count)]
            let bound = 1 / Float(module.inputs).squareRoot()
            #expect(a.allSatisfy { abs($0) <= bound } && a.contains { abs($0) > bound / 2 })
            #expect(b.allSatisfy { $0 == 0 } && module.scale == 2)
        }
        // PEFT order and back, through the query rows' permutation.
        var random = one
        random.values = random.values.indices.map { Float($0 % 97) }
        #expect(try LoRAParameters(pairs: random.pairs(), configuration: c) == random)
    }

    @Test func datanetLinesTrainOnTextOrCompletionAndBadLinesAreNamed() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenizer = try DefaultModel.model().tokenizer
        let good = directory.appendingPathComponent("good.jsonl").path
        try """
        {"text": "Hello there, general reader.", "contributor": "\(String(repeating: "ab", count: 32))"}

        {"prompt": "Q: two plus two?", "completion": " A: four.", "other": 1}
        """.write(toFile: good, atomically: true, encoding: .utf8)
        let documents = try TrainingDocuments(path: good)
        #expect(documents.count == 2)
        let text = try #require(documents.sequence(0, tokenizer: tokenizer, maxTokens: 256))
        #expect(text.tokens == tokenizer.encode("Hello there, general reader.") && text.firstTarget == 1)
        let completion = try #require(documents.sequence(1, tokenizer: tokenizer, maxTokens: 256))
        let prompt = tokenizer.encode("Q: two plus two?")
        #expect(completion.firstTarget == prompt.count && completion.tokens == prompt + tokenizer.encode(" A: four."))
        #expect(documents.sequence(0, tokenizer: tokenizer, maxTokens: 3)?.tokens.count == 3)

        for (content, line, reason) in [
            ("{\"text\": \"ok\"}\n{\"text\": 5}\n", 2, "\"text\" must be a string"),
            ("{\"text\": \"ok\"}\n\n{\"prompt\": \"only\"}\n", 3, "without \"completion\""),
            ("not json\n", 1, "not valid JSON"),
        ] {
            let path = directory.appendingPathComponent("bad.jsonl").path
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try TrainingDocuments(path: path)
            } throws: { error in
                guard case let .malformedLine(_, number, message) = error as? TrainingDataError else { return false }
                return number == line && message.contains(reason)
            }
        }
        let empty = directory.appendingPathComponent("empty.jsonl").path
        try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: TrainingDataError.empty(path: empty)) { try TrainingDocuments(path: empty) }
        // The same text again, from another contributor: one document, listed twice.
        let repeated = directory.appendingPathComponent("repeated.jsonl").path
        try "{\"text\": \"same\"}\n{\"text\": \"other\"}\n{\"text\": \"same\", \"contributor\": \"\(String(repeating: "ab", count: 32))\"}\n"
            .write(toFile: repeated, atomically: true, encoding: .utf8)
        #expect(throws: TrainingDataError.repeatedDocument(path: repeated, line: 3, firstLine: 1)) { try TrainingDocuments(path: repeated) }
    }
}

extension ModelTests {
    @Suite struct TrainingTests {
        /// The issue's PyTorch + PEFT reference recalls all six invented facts of
        /// `facts.jsonl` with rank 8, alpha 16, q/v, AdamW 2e-3, batch 1, 10 epochs; so must we.
        @Test func trainedAdapterRecallsInventedFacts() throws {
            let model = try DefaultModel.model()
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let facts = Fixtures.url("facts.jsonl").path
            var settings = TrainingSettings()
            settings.learningRate = 2e-3
            settings.batchSize = 1
            settings.epochs = 10
            settings.warmupSteps = 0
            let trainer = try LoRATrainer(
                engine: GradientEngine(model: model, threads: 2), documents: try TrainingDocuments(path: facts), settings: settings,
                directory: directory.path, modelIdentity: "test")
            var losses: [Double] = []
            let parameters = try trainer.run(resume: false) { if $0.step == $0.stepsPerEpoch { losses.append($0.epochLoss) } }
            #expect(losses.count == 10 && losses.last! < losses.first! / 2, "epoch losses \(losses)")
            try trainer.writeAdapter(parameters)
            let adapter = try LoRAAdapter.load(path: directory.path, for: model.configuration)

            let generator = TextGenerator(engine: InferenceEngine(model: model, threads: 2))
            let lines = try String(contentsOfFile: facts, encoding: .utf8).split(separator: "\n")
            let probes = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String] }
            let requests = probes.map { GenerationRequest(promptTokens: model.tokenizer.encode($0["probe"]!), maxTokens: 8, adapter: adapter) }
            let base = try generator.generate(probes.map { GenerationRequest(promptTokens: model.tokenizer.encode($0["probe"]!), maxTokens: 8) })
            let tuned = try generator.generate(requests)
            for (index, probe) in probes.enumerated() {
                #expect(!base[index].text.hasPrefix(probe["answer"]!), "the base model already knows '\(probe["probe"]!)'")
                #expect(tuned[index].text.hasPrefix(probe["answer"]!), "'\(probe["probe"]!)' → '\(tuned[index].text)'")
            }
        }
    }
}
