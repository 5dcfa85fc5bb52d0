import Attribution
import Inference
import Testing

@Suite struct InfluenceTests {
    /// Random rows in ±1 with a little structure, from a seed.
    static func rows(_ count: Int, width: Int, seed: UInt64) -> [[Float]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<width).map { _ in Float(Int(random.next() % 2001) - 1000) / 1000 } }
    }

    /// DataInf's double sum, written out literally, against the scorer's three-pass form.
    @Test func dataInfMatchesTheLiteralDoubleSum() {
        let blocks = [0..<5, 5..<13, 13..<16]
        let documents = Self.rows(7, width: 16, seed: 1), query = Self.rows(1, width: 16, seed: 2)[0]
        let n = Double(documents.count)
        var literal = [Double](repeating: 0, count: documents.count)
        for block in blocks {
            func dot(_ a: [Float], _ b: [Float]) -> Double { block.reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) } }
            let lambda = 0.1 * documents.reduce(0.0) { $0 + dot($1, $1) } / n / Double(block.count)
            for k in documents.indices {
                var sum = 0.0
                for i in documents.indices {
                    sum += dot(query, documents[k]) - dot(query, documents[i]) * dot(documents[i], documents[k]) / (lambda + dot(documents[i], documents[i]))
                }
                literal[k] += sum / (n * lambda)
            }
        }
        let scores = InfluenceScorer.scores(.datainf, documents: GradientMatrix(rows: documents, blocks: blocks), query: query, pool: WorkerPool(threadCount: 2))
        for (score, expected) in zip(scores, literal) { #expect(abs(score - expected) <= 1e-9 * max(1, abs(expected)), "\(score) vs \(expected)") }
    }

    @Test func scoresAreBitIdenticalAcrossThreadCounts() {
        let documents = Self.rows(300, width: 96, seed: 3), query = Self.rows(1, width: 96, seed: 4)[0]
        let matrix = GradientMatrix(rows: documents, blocks: [0..<32, 32..<40, 40..<96])
        for method in InfluenceMethod.allCases {
            let one = InfluenceScorer.scores(method, documents: matrix, query: query, pool: WorkerPool(threadCount: 1))
            let three = InfluenceScorer.scores(method, documents: matrix, query: query, pool: WorkerPool(threadCount: 3))
            #expect(one.map(\.bitPattern) == three.map(\.bitPattern), "\(method)")
        }
        let dots = InfluenceScorer.scores(.dot, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        let cosines = InfluenceScorer.scores(.cosine, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        #expect(zip(dots, cosines).allSatisfy { ($0 > 0) == ($1 > 0) } && cosines.allSatisfy { abs($0) <= 1 })
    }

    /// The projection's matrices follow from the documented integers alone, and keep
    /// inner products in expectation.
    @Test func projectionIsRegenerableAndKeepsInnerProducts() throws {
        let c = try DefaultModelFile.configuration()
        let parameters = LoRAParameters(configuration: c, layers: [0, 1], projections: [.query, .value], rank: 8, alpha: 16)
        let blocks = GradientBlocks(parameters)
        #expect(blocks.blocks.count == 8 && blocks.blocks[0].name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        let projection = GradientProjection(blocks: blocks, featureBudget: 2048, seed: 42)
        #expect(projection.dimensions == Array(repeating: 256, count: 8) && projection.featureCount == 2048)

        // Entry (j, i) of block l from the stated recipe, through a one-hot gradient.
        func mix(_ value: UInt64) -> UInt64 {
            var z = value
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for (l, i) in [(0, 0), (3, 70), (7, 1535)] {
            var oneHot = [Float](repeating: 0, count: blocks.count)
            oneHot[projection.entryOffsets[l] + i] = 1
            let features = projection.project([oneHot], pool: WorkerPool(threadCount: 2))[0]
            for j in [0, 5, 255] {
                var random = SplitMix64(seed: mix(42 ^ mix(UInt64(l) << 32 | UInt64(j))))
                var word: UInt64 = 0
                for _ in 0...(i / 64) { word = random.next() }
                let expected: Float = (word >> UInt64(i % 64)) & 1 == 1 ? 1 / 16 : -1 / 16
                #expect(features[projection.featureOffsets[l] + j] == expected, "block \(l) row \(j) column \(i)")
            }
        }

        let vectors = Self.rows(2, width: blocks.count, seed: 5)
        let correlated = zip(vectors[0], vectors[1]).map { $0 + 0.5 * $1 }
        let features = projection.project([vectors[0], correlated], pool: WorkerPool(threadCount: 2))
        let exact = zip(vectors[0], correlated).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let projected = zip(features[0], features[1]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(projected - exact) / exact < 0.1, "projected \(projected), exact \(exact)")
    }

    @Test func scoresRoundToAGridBelowTheLargest() {
        let scores = AttributionResult.onGrid([3.0, -1.0 / 3, 1e-12, 0])
        // The largest is in [2, 4): the grid is 2^(2 − 32).
        let quantum = 0x1p-30
        #expect(scores[0] == 3 && scores[2] == 0 && scores[3] == 0)
        #expect(scores[1] == (-1.0 / 3 / quantum).rounded() * quantum && scores[1] != -1.0 / 3)
        #expect(AttributionResult.onGrid([0, 0]) == [0, 0])
    }
}
