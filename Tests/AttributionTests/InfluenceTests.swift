import Attribution
import Inference
import Testing

@Suite struct InfluenceTests {
    /// `a·b / (‖a‖ ‖b‖)`, written out.
    static func cosine(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0.0) { $0 + $1.0 * $1.1 } / (a.reduce(0.0) { $0 + $1 * $1 } * b.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
    }

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

    /// The block Fisher's influence, written out: per block the damped Fisher built and solved
    /// by Gaussian elimination in float64, on a block narrower than the datanet (factorised as
    /// it is) and a wider one (solved through Woodbury's identity), full and int4 rows alike.
    /// The solver's float32 factors keep the preconditioned query within 1e-5 of it; the scores
    /// are its inner products with the rows (on int4 rows after quantizing it to int8, as every
    /// query is).
    @Test func fisherSolvesEachBlocksDampedFisher() {
        let blocks = [0..<5, 5..<16]
        let documents = Self.rows(7, width: 16, seed: 1), query = Self.rows(1, width: 16, seed: 2)[0]
        let quantized = FeatureMatrix(rows: documents.map(FeatureMatrix.quantize), width: 16, blocks: blocks)
        let pool = WorkerPool(threadCount: 2)
        let dequantized = (0..<documents.count).map { quantized.row($0) }.map { row in row.levels.map { Double(row.scale) * Double($0) } }
        for (rows, matrix) in [(documents.map { $0.map(Double.init) }, GradientMatrix(rows: documents, blocks: blocks) as any ScoringRows),
                               (dequantized, quantized as any ScoringRows)] {
            var preconditioned = [Double](repeating: 0, count: 16)
            for block in blocks {
                let d = block.count, n = Double(rows.count)
                var system = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d)
                for a in 0..<d {
                    for b in 0..<d { system[a][b] = rows.reduce(0.0) { $0 + $1[block.lowerBound + a] * $1[block.lowerBound + b] } / n }
                    system[a][d] = Double(query[block.lowerBound + a])
                }
                let lambda = BlockFisher.dampingShare * (0..<d).reduce(0.0) { $0 + system[$1][$1] }
                for a in 0..<d { system[a][a] += lambda }
                for column in 0..<d {
                    for row in 0..<d where row != column {
                        let factor = system[row][column] / system[column][column]
                        for j in column...d { system[row][j] -= factor * system[column][j] }
                    }
                }
                for a in 0..<d { preconditioned[block.lowerBound + a] = system[a][d] / system[a][a] }
            }
            func solve<Rows: ScoringRows>(_ rows: Rows) -> [Double] { BlockFisher(rows, pool: pool).preconditioned(rows, query: query, pool: pool) }
            let solved = solve(matrix), largest = preconditioned.map(abs).max()!
            #expect(zip(solved, preconditioned).allSatisfy { abs($0 - $1) <= 1e-5 * largest }, "\(solved) vs \(preconditioned)")
            let levels = FeatureMatrix.quantizeQuery(solved.map { Float($0) })
            let u = matrix is FeatureMatrix ? levels.levels.map { Double($0) * Double(levels.scale) } : solved.map { Double(Float($0)) }
            let literal = rows.map { row in zip(u, row).reduce(0.0) { $0 + $1.0 * $1.1 } }
            let scores = Self.scores(.fisher, matrix, query, pool)
            for (score, expected) in zip(scores, literal) { #expect(abs(score - expected) <= 1e-9 * max(1, abs(expected)), "\(score) vs \(expected)") }
        }
    }

    /// `hybrid` is `fisher`'s scores over their range (largest minus smallest) plus the text
    /// relevance over its own, written out; a relevance equal for every document adds nothing, and a document
    /// holding none of the query's words keeps its influence's sign.
    @Test func hybridAddsInfluenceAndTextEachOverItsRange() {
        let blocks = [0..<5, 5..<16]
        let matrix = GradientMatrix(rows: Self.rows(9, width: 16, seed: 7), blocks: blocks), query = Self.rows(1, width: 16, seed: 8)[0]
        let pool = WorkerPool(threadCount: 2)
        let influence = InfluenceScorer.scores(.fisher, documents: matrix, query: query, pool: pool)
        let relevance: [Double] = [0, 0, 3.5, 0, 1.25, 0, 0, 7, 0]
        func range(_ values: [Double]) -> Double { values.max()! - values.min()! }
        let hybrid = InfluenceScorer.scores(.hybrid, documents: matrix, query: query, textRelevance: relevance, pool: pool)
        for k in 0..<9 {
            let expected = influence[k] / range(influence) + relevance[k] / range(relevance)
            #expect(abs(hybrid[k] - expected) <= 1e-12 * max(1, abs(expected)), "\(k): \(hybrid[k]) vs \(expected)")
            if relevance[k] == 0 { #expect((hybrid[k] > 0) == (influence[k] > 0), "\(k)") }
        }
        let flat = InfluenceScorer.scores(.hybrid, documents: matrix, query: query, textRelevance: [Double](repeating: 2, count: 9), pool: pool)
        #expect(zip(flat, influence).allSatisfy { abs($0 - $1 / range(influence)) <= 1e-12 * max(1, abs($0)) })
    }

    /// A text relevance for `count` documents, as BM25 gives: mostly zero, some positive.
    static func relevance(_ count: Int) -> [Double] { (0..<count).map { $0 % 3 == 0 ? Double($0 % 7) * 1.5 : 0 } }

    static func scores(_ method: InfluenceMethod, _ rows: any ScoringRows, _ query: [Float], _ pool: WorkerPool) -> [Double] {
        func open<Rows: ScoringRows>(_ rows: Rows) -> [Double] { InfluenceScorer.scores(method, documents: rows, query: query, pool: pool) }
        return open(rows)
    }

    /// The standardised cosine, written out: z-score every feature over the documents (a
    /// feature equal in every document is left out), then the cosine.
    @Test func standardizedIsTheCosineOfZScores() {
        var documents = Self.rows(40, width: 12, seed: 7)
        for k in documents.indices { documents[k][3] = 0.25 }
        let query = Self.rows(1, width: 12, seed: 8)[0]
        let n = Double(documents.count)
        let means = (0..<12).map { j in documents.reduce(0.0) { $0 + Double($1[j]) } / n }
        let deviations = (0..<12).map { j in (documents.reduce(0.0) { $0 + (Double($1[j]) - means[j]) * (Double($1[j]) - means[j]) } / n).squareRoot() }
        func z(_ x: [Float]) -> [Double] { (0..<12).map { deviations[$0] > 1e-9 ? (Double(x[$0]) - means[$0]) / deviations[$0] : 0 } }
        let expected = documents.map { Self.cosine(z(query), z($0)) }
        let matrix = GradientMatrix(rows: documents, blocks: [0..<5, 5..<12])
        let scores = InfluenceScorer.scores(.standardized, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        for (score, value) in zip(scores, expected) { #expect(abs(score - value) <= 1e-9, "\(score) vs \(value)") }
        let standardization = FeatureStandardization(matrix, pool: WorkerPool(threadCount: 1))
        #expect(standardization.inverseVariances[3] == 0, "a constant feature is left out")
        let statistics = RowStatistics(matrix, pool: WorkerPool(threadCount: 3))
        statistics.standardization = standardization
        #expect(InfluenceScorer.scores(.standardized, statistics: statistics, query: query).map(\.bitPattern) == scores.map(\.bitPattern))
    }

    /// The centred cosine, written out: subtract every feature's mean over the documents from
    /// the query and the documents, then the cosine.
    @Test func centeredIsTheCosineOfCentredFeatures() {
        let documents = Self.rows(40, width: 12, seed: 9), query = Self.rows(1, width: 12, seed: 10)[0]
        let means = (0..<12).map { j in documents.reduce(0.0) { $0 + Double($1[j]) } / Double(documents.count) }
        func centred(_ x: [Float]) -> [Double] { (0..<12).map { Double(x[$0]) - means[$0] } }
        // The centred query is compared in the rows' representation: float32 for gradients.
        let expected = documents.map { Self.cosine(centred(query).map { Double(Float($0)) }, centred($0)) }
        let matrix = GradientMatrix(rows: documents, blocks: [0..<5, 5..<12])
        let scores = InfluenceScorer.scores(.centered, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        for (score, value) in zip(scores, expected) { #expect(abs(score - value) <= 1e-9, "\(score) vs \(value)") }
        #expect(scores != InfluenceScorer.scores(.cosine, documents: matrix, query: query, pool: WorkerPool(threadCount: 2)), "centring moves the scores")
        // On the index's int4 rows: the same formula over the values the levels stand for,
        // with the centred query quantized as a query is.
        let quantized = documents.map(FeatureMatrix.quantize)
        func values(_ row: FeatureMatrix.QuantizedRow) -> [Double] { row.levels.map { Double(row.scale * Float($0)) } }
        let levelMeans = (0..<12).map { j in quantized.reduce(0.0) { $0 + values($1)[j] } / Double(documents.count) }
        let levelQuery = values(FeatureMatrix.quantizeQuery((0..<12).map { Float(Double(query[$0]) - levelMeans[$0]) }))
        let levelExpected = quantized.map { row in Self.cosine(levelQuery, values(row).enumerated().map { $1 - levelMeans[$0] }) }
        let levelScores = InfluenceScorer.scores(.centered, documents: FeatureMatrix(rows: quantized, width: 12, blocks: [0..<5, 5..<12]), query: query,
                                                 pool: WorkerPool(threadCount: 2))
        for (score, value) in zip(levelScores, levelExpected) { #expect(abs(score - value) <= 1e-6, "\(score) vs \(value)") }
    }

    /// CSLS, written out: each document's hubness is the mean of its `neighbours` largest
    /// centred cosines with the first `references` documents (itself left out: documents 0–24
    /// are references, 25–39 not), and half of it comes off the document's centred cosine with
    /// the query.
    @Test func cslsSubtractsHalfTheMeanOfTheNearestCentredCosines() {
        let documents = Self.rows(40, width: 12, seed: 11), query = Self.rows(1, width: 12, seed: 12)[0]
        let means = (0..<12).map { j in documents.reduce(0.0) { $0 + Double($1[j]) } / Double(documents.count) }
        func centred(_ x: [Float]) -> [Double] { (0..<12).map { Double(Float(Double(x[$0]) - means[$0])) } }
        func exactCentred(_ x: [Float]) -> [Double] { (0..<12).map { Double(x[$0]) - means[$0] } }
        let hubness = documents.indices.map { d -> Double in
            let nearest = (0..<25).filter { $0 != d }.map { Self.cosine(centred(documents[d]), exactCentred(documents[$0])) }.sorted(by: >).prefix(5)
            return nearest.reduce(0, +) / 5
        }
        let expected = documents.indices.map { Self.cosine(centred(query), exactCentred(documents[$0])) - 0.5 * hubness[$0] }
        let matrix = GradientMatrix(rows: documents, blocks: [0..<5, 5..<12])
        let pool = WorkerPool(threadCount: 2)
        let statistics = RowStatistics(matrix, pool: pool)
        let computed = Hubness(matrix, standardization: statistics.standardization, pool: pool, references: 25, neighbours: 5)
        for (value, written) in zip(computed.meanNeighbourScores, hubness) { #expect(abs(value - written) <= 1e-9, "\(value) vs \(written)") }
        statistics.hubness = computed
        let scores = InfluenceScorer.scores(.csls, statistics: statistics, query: query)
        for (score, value) in zip(scores, expected) { #expect(abs(score - value) <= 1e-9, "\(score) vs \(value)") }
    }

    /// α-weighted query expansion, written out: the unit centred query plus the unit centred
    /// rows of its 10 best documents by `csls`, each weighted by its positive centred cosine
    /// with the query squared, scored by `csls` again.
    @Test func expandedAddsTheBestDocumentsWeightedByTheirSquaredCosines() {
        // 14 documents, so that the best 10 include some on the query's far side.
        let documents = Self.rows(14, width: 12, seed: 13), query = Self.rows(1, width: 12, seed: 14)[0]
        let matrix = GradientMatrix(rows: documents, blocks: [0..<5, 5..<12])
        let pool = WorkerPool(threadCount: 2)
        let statistics = RowStatistics(matrix, pool: pool)
        let hubness = Hubness(matrix, standardization: statistics.standardization, pool: pool, references: 8, neighbours: 3)
        statistics.hubness = hubness
        let means = (0..<12).map { j in documents.reduce(0.0) { $0 + Double($1[j]) } / Double(documents.count) }
        func unitCentred(_ x: [Float]) -> [Double] {
            let centred = (0..<12).map { Double(x[$0]) - means[$0] }, norm = centred.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return centred.map { $0 / norm }
        }
        let first = InfluenceScorer.scores(.csls, statistics: statistics, query: query)
        // The query is centred in float64, then rounded to float32 as the rows' representation takes it.
        let centredQuery = (0..<12).map { Double(Float(Double(query[$0]) - means[$0])) }
        let cosines = documents.map { Self.cosine(centredQuery, unitCentred($0)) }
        let best = first.indices.sorted { first[$0] > first[$1] }.prefix(10)
        #expect(best.contains { cosines[$0] <= 0 } && best.contains { cosines[$0] > 0 }, "both kinds of weight are exercised")
        let expanded = (0..<12).map { j in
            unitCentred(query)[j] + best.reduce(0.0) { $0 + max(0, cosines[$1]) * max(0, cosines[$1]) * unitCentred(documents[$1])[j] }
        }
        let expected = documents.indices.map { d in
            Self.cosine(expanded.map { Double(Float($0)) }, unitCentred(documents[d])) - 0.5 * hubness.meanNeighbourScores[d]
        }
        let scores = InfluenceScorer.scores(.expanded, statistics: statistics, query: query)
        for (score, value) in zip(scores, expected) { #expect(abs(score - value) <= 1e-9, "\(score) vs \(value)") }
        #expect(scores != first, "the expansion moves the scores")
    }

    @Test func scoresAreBitIdenticalAcrossThreadCounts() {
        let documents = Self.rows(300, width: 96, seed: 3), query = Self.rows(1, width: 96, seed: 4)[0]
        let blocks = [0..<32, 32..<40, 40..<96]
        let matrix = GradientMatrix(rows: documents, blocks: blocks)
        let quantized = FeatureMatrix(rows: documents.map(FeatureMatrix.quantize), width: 96, blocks: blocks)
        let relevance = Self.relevance(300)
        for method in InfluenceMethod.allCases {
            let one = InfluenceScorer.scores(method, documents: matrix, query: query, textRelevance: relevance, pool: WorkerPool(threadCount: 1))
            let three = InfluenceScorer.scores(method, documents: matrix, query: query, textRelevance: relevance, pool: WorkerPool(threadCount: 3))
            #expect(one.map(\.bitPattern) == three.map(\.bitPattern), "\(method)")
            let oneQuantized = InfluenceScorer.scores(method, documents: quantized, query: query, textRelevance: relevance, pool: WorkerPool(threadCount: 1))
            let threeQuantized = InfluenceScorer.scores(method, documents: quantized, query: query, textRelevance: relevance, pool: WorkerPool(threadCount: 3))
            #expect(oneQuantized.map(\.bitPattern) == threeQuantized.map(\.bitPattern), "\(method), int4 rows")
        }
        let dots = InfluenceScorer.scores(.dot, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        let cosines = InfluenceScorer.scores(.cosine, documents: matrix, query: query, pool: WorkerPool(threadCount: 2))
        #expect(zip(dots, cosines).allSatisfy { ($0 > 0) == ($1 > 0) } && cosines.allSatisfy { abs($0) <= 1 })
    }

    /// The batched product of packed rows with several queries (the hubness's) gives what one
    /// query at a time gives, bit for bit: an odd width, a count of queries that is not a whole
    /// number of groups of four, rows not starting at zero.
    @Test func batchedDotsAreTheSingleDots() {
        let matrix = FeatureMatrix(rows: Self.rows(40, width: 65, seed: 21).map(FeatureMatrix.quantize), width: 65, blocks: [0..<39, 39..<65])
        let queries = Self.rows(6, width: 65, seed: 22).map(FeatureMatrix.quantizeQuery)
        let batched = matrix.dots(queries, rows: 3..<37, pool: WorkerPool(threadCount: 3))
        for (q, query) in queries.enumerated() {
            #expect(batched[q].map(\.bitPattern) == (3..<37).map { matrix.dot(query, row: $0, columns: 0..<65).bitPattern }, "query \(q)")
        }
    }

    /// Levels follow the stated rules (rows: int4, clipped at 3 RMS; queries: int8); scores on
    /// packed rows are those of the dequantized rows (up to rounding the dequantized values to
    /// float32), and follow the float rows' scores.
    @Test func quantizedFeaturesScoreAsTheirValues() {
        let row = FeatureMatrix.quantize([0.5, -1.27, 0.004, 0.006, 1.27, 0])
        #expect(row.scale == Float(1.27) / 7 && row.levels == [3, -7, 0, 0, 7, 0])
        let clipped = FeatureMatrix.quantize([10, 1, -1, 1, -1, 1, -1, 1, -1, 1])
        #expect(clipped.scale == Float(3 * (109.0 / 10).squareRoot()) / 7 && clipped.levels == [7, 1, -1, 1, -1, 1, -1, 1, -1, 1])
        #expect(FeatureMatrix.quantize([0, 0]) == .init(scale: 0, levels: [0, 0]))
        let query = FeatureMatrix.quantizeQuery([0.5, -1.27, 0.004, 0.006, 1.27, 0])
        #expect(query.scale == Float(1.27) / 127 && query.levels == [50, -127, 0, 1, 127, 0])

        // An odd width and blocks that start at odd features exercise every edge of the packing.
        let blocks = [0..<39, 39..<64, 64..<65]
        let documents = Self.rows(50, width: 65, seed: 5), v = Self.rows(1, width: 65, seed: 6)[0]
        let quantized = documents.map(FeatureMatrix.quantize)
        let matrix = FeatureMatrix(rows: quantized, width: 65, blocks: blocks)
        #expect((0..<50).allSatisfy { matrix.row($0) == quantized[$0] }, "rows unpack to their levels")
        func dequantized(_ row: FeatureMatrix.QuantizedRow) -> [Float] { row.levels.map { Float($0) * row.scale } }
        let pool = WorkerPool(threadCount: 2)
        // `centered`, `csls` and `expanded` quantize the query after centring it, `fisher` and
        // `hybrid` after preconditioning it (checked in their own tests).
        for method in InfluenceMethod.allCases where ![.centered, .csls, .expanded, .fisher, .hybrid].contains(method) {
            let scores = InfluenceScorer.scores(method, documents: matrix, query: v, pool: pool)
            let fromValues = InfluenceScorer.scores(method, documents: GradientMatrix(rows: quantized.map(dequantized), blocks: blocks),
                                                    query: dequantized(FeatureMatrix.quantizeQuery(v)), pool: pool)
            let largest = fromValues.map(abs).max()!
            for k in scores.indices { #expect(abs(scores[k] - fromValues[k]) <= 1e-5 * largest, "\(method) \(k)") }
        }
        let relevance = Self.relevance(50)
        for method in InfluenceMethod.allCases {
            let scores = InfluenceScorer.scores(method, documents: matrix, query: v, textRelevance: relevance, pool: pool)
            let fromFloats = InfluenceScorer.scores(method, documents: GradientMatrix(rows: documents, blocks: blocks), query: v,
                                                    textRelevance: relevance, pool: pool)
            #expect(Self.correlation(scores, fromFloats) >= 0.97, "\(method): \(Self.correlation(scores, fromFloats))")
        }
    }

    /// Pearson's correlation, written out.
    static func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let meanA = a.reduce(0, +) / Double(a.count), meanB = b.reduce(0, +) / Double(b.count)
        return cosine(a.map { $0 - meanA }, b.map { $0 - meanB })
    }

    /// The budget is split in proportion to energy after one feature each, remainders to
    /// the largest shares, never past a block's entries, equally without energy.
    @Test func featureAllocationFollowsEnergy() {
        // 9 left: shares 1.125, 2.25, 5.625 → 1, 2, 5 and the last feature to the largest remainder (0.625).
        #expect(GradientProjection.allocation(budget: 12, entries: [100, 100, 100], energies: [1, 2, 5]) == [2, 3, 7])
        #expect(GradientProjection.allocation(budget: 10, entries: [3, 100], energies: [100, 1]) == [3, 7])
        #expect(GradientProjection.allocation(budget: 9, entries: [100, 100, 100], energies: [0, 0, 0]) == [3, 3, 3])
        #expect(GradientProjection.allocation(budget: 6, entries: [100, 100, 100], energies: [0, 1, 1]) == [1, 3, 2])
        #expect(GradientProjection.allocation(budget: 500, entries: [2, 3], energies: [1, 1]) == [2, 3])
    }

    /// The projection's matrices follow from the documented integers alone, and keep
    /// inner products in expectation.
    @Test func projectionIsRegenerableAndKeepsInnerProducts() throws {
        let c = try DefaultModelFile.configuration()
        let parameters = LoRAParameters(configuration: c, layers: [0, 1], projections: [.query, .value], rank: 8, alpha: 16)
        let blocks = GradientBlocks(parameters)
        #expect(blocks.blocks.count == 8 && blocks.blocks[0].name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
        let projection = GradientProjection(blocks: blocks, dimensions: Array(repeating: 256, count: 8), seed: 42)
        #expect(projection.featureCount == 2048)

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
