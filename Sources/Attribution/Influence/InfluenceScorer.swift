import Inference

/// How a document's training gradient and the query's gradient become a score. Positive
/// scores mean the document helped the answer (its gradient step lowers the query's loss).
public enum InfluenceMethod: String, Sendable, CaseIterable {
    /// DataInf (Kwon et al., ICLR 2024), per block `l` with `n` documents' gradients `g_li`
    /// and the query's `v_l`: `λ_l = 0.1 · mean_i ‖g_li‖² / d_l` and
    /// `score_k = Σ_l (1/(n·λ_l)) Σ_i [v_l·g_lk − (v_l·g_li)(g_li·g_lk)/(λ_l + ‖g_li‖²)]`.
    case datainf
    /// `v · g_k`: the first-order change of the query loss from a step on document `k`.
    case dot
    /// `v · g_k / (‖v‖ ‖g_k‖)`.
    case cosine
    /// The cosine of features centred on their mean over the datanet's documents and divided
    /// by their standard deviation there (`FeatureStandardization`).
    case standardized
    /// The cosine of features centred on their mean over the datanet's documents
    /// (`FeatureStandardization` without the division): the direction every document shares
    /// removed, from the query and the documents alike.
    case centered
    /// `centered` minus half the document's hubness, the mean `centered` score of its nearest
    /// datanet documents (`Hubness`): cross-domain similarity local scaling, which keeps a
    /// document near every other from ranking high for every query.
    case csls
    /// `csls` of the query after α-weighted query expansion: the centred query plus its best
    /// documents' centred rows by `csls`, each weighted by its `centered` score squared
    /// (`QueryExpansion`), scored by `csls` again.
    case expanded
    /// The influence function with each block's damped empirical Fisher in the rows' own
    /// space (`BlockFisher`, LoGra / EK-FAC-style): `Σ_l v_lᵀ (F_l + λ_l I)⁻¹ g_lk`, where DataInf
    /// approximates the inverse document by document; the preconditioned query is quantized
    /// as any query.
    case fisher
    /// `fisher`'s influence plus the BM25 relevance of the document's words to the query's
    /// words, each divided by its range over the documents (`HybridScores`): the
    /// gradient's evidence and the text's, which fail on different documents.
    case hybrid

    /// The damping the method names in a proof: `BlockFisher.dampingShare` for `fisher` and
    /// `hybrid` (`λ_l = damping · mean ‖g_l‖²`), else DataInf's (`λ_l = damping · mean ‖g_l‖² / d_l`,
    /// the factor the other methods record too).
    public var damping: Double { self == .fisher || self == .hybrid ? BlockFisher.dampingShare : 0.1 }

    /// Whether the method scores the documents' and the query's words too (`textRelevance` of
    /// `InfluenceScorer.scores`), not only their gradients.
    public var usesText: Bool { self == .hybrid }

    /// What `tributary attribute` and serving use when no method is named: the method that
    /// measures best on `tributary bench attribution` (BENCHMARKS.md).
    public static let defaultMethod = InfluenceMethod.hybrid
}

/// Scores every document of a `ScoringRows` against one query, in arithmetic whose order is
/// fixed by the data alone: per-document sums run in one piece on whichever thread takes the
/// document, and sums over documents run in document order, so scores are bit-identical
/// across runs and thread counts.
public enum InfluenceScorer {
    /// Every document's score by `method` against `v` (a gradient, or projected features, as
    /// wide as the rows), computed on `pool` with the statistics it needs computed afresh.
    public static func scores<Rows: ScoringRows>(_ method: InfluenceMethod, documents g: Rows, query v: [Float], textRelevance: [Double]? = nil,
                                                 pool: WorkerPool) -> [Double] {
        scores(method, statistics: RowStatistics(g, pool: pool), query: v, textRelevance: textRelevance)
    }

    /// Every document of `statistics.rows` scored by `method` against `v`, with the
    /// statistics the method needs (computed there the first time, then kept).
    /// `textRelevance` is every document's BM25 score for the query's words, which a method
    /// that `usesText` needs and the others ignore.
    public static func scores<Rows: ScoringRows>(_ method: InfluenceMethod, statistics: RowStatistics<Rows>, query v: [Float],
                                                 textRelevance: [Double]? = nil) -> [Double] {
        let g = statistics.rows, pool = statistics.pool
        precondition(!method.usesText || textRelevance?.count == g.count, "\(method.rawValue) needs one text relevance per document")
        let dots = { (query: Rows.Query) in (0..<g.count).mapInParallel(chunk: 64, pool: pool) { g.dot(query, row: $0, columns: 0..<g.width) } }
        switch method {
        case .dot:
            return dots(g.query(v))
        case .cosine:
            let query = g.query(v), queryNorm = g.squaredNorm(query).squareRoot()
            return zip(dots(query), g.norms).map { dot, norm in norm > 0 && queryNorm > 0 ? dot / (norm * queryNorm) : 0 }
        case .datainf:
            return dataInf(g, g.query(v), pool)
        case .fisher, .hybrid:
            let influence = dots(g.query(statistics.fisher.preconditioned(g, query: v, pool: pool).map { Float($0) }))
            return method == .fisher ? influence : HybridScores.combine(influence: influence, relevance: textRelevance!)
        case .standardized:
            return statistics.standardization.standardizedScores(g, query: g.query(v), pool: pool)
        case .centered:
            return statistics.standardization.centredScores(g, query: v, pool: pool)
        case .csls, .expanded:
            let standardization = statistics.standardization, hubness = statistics.hubness
            let centered = standardization.centredScores(g, query: v, pool: pool), scores = hubness.scores(centered: centered)
            guard method == .expanded else { return scores }
            let expanded = QueryExpansion.centredQuery(g, query: v, centered: centered, csls: scores, standardization: standardization)
            return hubness.scores(centered: standardization.centredScores(g, centredQuery: expanded, pool: pool))
        }
    }

    /// DataInf rewritten with `c_i = (v_l·g_li)/(λ_l + ‖g_li‖²)` and `w_l = Σ_i c_i g_li` as
    /// `score_k = Σ_l (n v_l − w_l)·g_lk / (n λ_l)`: three passes over the matrix instead of n.
    static func dataInf<Rows: ScoringRows>(_ g: Rows, _ v: Rows.Query, _ pool: WorkerPool) -> [Double] {
        let n = g.count, blockCount = g.blocks.count
        // v_l·g_li for every document and block.
        let queryDots = (0..<n).mapInParallel(chunk: 16, pool: pool) { k in g.blocks.map { g.dot(v, row: k, columns: $0) } }.flatMap { $0 }
        var lambdas = [Double](repeating: 0, count: blockCount)
        for l in 0..<blockCount {
            var total = 0.0
            for k in 0..<n { total += g.squaredNorms[k * blockCount + l] }
            lambdas[l] = InfluenceMethod.datainf.damping * total / Double(n) / Double(g.blocks[l].count)
        }
        // u_l = (n v_l − w_l) / (n λ_l), w_l = Σ_i c_i g_li: a block's columns on one thread,
        // the documents added into them in order.
        let u: [Double] = (0..<blockCount).mapInParallel(chunk: 1, pool: pool) { l -> [Double] in
            let block = g.blocks[l]
            // A block whose gradients are all zero (λ = 0) adds nothing to any score.
            guard lambdas[l] > 0 else { return [Double](repeating: 0, count: block.count) }
            var w = [Double](repeating: 0, count: block.count)
            w.withUnsafeMutableBufferPointer { w in
                for i in 0..<n {
                    g.add(queryDots[i * blockCount + l] / (lambdas[l] + g.squaredNorms[i * blockCount + l]), row: i, columns: block, into: w.baseAddress!)
                }
            }
            return zip(g.values(of: v, columns: block), w).map { (Double(n) * $0 - $1) / (Double(n) * lambdas[l]) }
        }.flatMap { $0 }
        return u.withUnsafeBufferPointer { u in (0..<n).mapInParallel(chunk: 64, pool: pool) { g.dot(u.baseAddress!, row: $0) } }
    }
}

extension Range<Int> {
    /// `transform` of every element, computed in chunks on `pool`, in order.
    func mapInParallel<T>(chunk: Int, pool: WorkerPool, _ transform: (Int) -> T) -> [T] {
        let chunks = (count + chunk - 1) / chunk
        var parts = [[T]](repeating: [], count: chunks)
        parts.withUnsafeMutableBufferPointer { parts in
            pool.forEachChunk(chunks, chunk: 1) { _, range in
                for c in range { parts[c] = (lowerBound + c * chunk..<Swift.min(upperBound, lowerBound + (c + 1) * chunk)).map(transform) }
            }
        }
        return parts.flatMap { $0 }
    }
}
