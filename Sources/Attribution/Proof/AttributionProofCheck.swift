import Crypto
import Inference

/// Checks a proof the way another node does: recompute the attribution of the proof's tokens
/// with the proof's method from the adapter, its index and (for `exact`) its datanet, and
/// accept only a record equal byte for byte — the same top documents, scores, contributor
/// weights and spans. The proof's id and signature are checked when it is read
/// (`AttributionProof.init(json:)`).
public enum AttributionProofCheck {
    /// Throws `AttributionProofError.mismatch` naming the first field that differs.
    public static func verify(_ proof: AttributionProof, attributor: Attributor, baseModel: Digest) throws {
        let index = attributor.index
        func expect(_ field: String, _ claimed: some Equatable & CustomStringConvertible, _ actual: some Equatable & CustomStringConvertible) throws {
            guard "\(claimed)" == "\(actual)" else { throw AttributionProofError.mismatch(field: field, proof: "\(claimed)", recomputed: "\(actual)") }
        }
        try expect("adapter", proof.adapterID, index.adapterID)
        try expect("base_model", proof.baseModel, baseModel)
        try expect("index_root", proof.indexRoot, index.root)
        try expect("documents", proof.documentCount, index.documents.count)
        guard let method = InfluenceMethod(rawValue: proof.method.name) else {
            throw AttributionProofError.malformed("unknown method '\(proof.method.name)' (known: \(InfluenceMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let vocabulary = Int32(attributor.engine.configuration.vocabularySize), tokensMax = attributor.engine.sequenceTokensLimit
        guard !proof.promptTokens.isEmpty, !proof.completionTokens.isEmpty,
              (proof.promptTokens + proof.completionTokens).allSatisfy({ (0..<vocabulary).contains($0) }),
              proof.promptTokens.count + proof.completionTokens.count <= tokensMax,
              proof.method.spanMinTokens >= 1
        else { throw AttributionProofError.malformed("the prompt and completion must be non-empty token ids below \(vocabulary), at most \(tokensMax) in all, and span_min_tokens at least 1") }
        let result = try attributor.attribute(
            prompt: proof.promptTokens, completion: proof.completionTokens, forward: proof.method.forward, method: method, exact: proof.method.exact,
            spanRules: SpanRules(minTokens: proof.method.spanMinTokens))
        let top = proof.influence.count == index.documents.count ? 0 : proof.influence.count
        let recomputed = try AttributionProof(
            result: result, top: top, requestHash: proof.requestHash, baseModel: baseModel, promptTokens: proof.promptTokens,
            spanMinTokens: proof.method.spanMinTokens, provider: proof.provider, chainID: proof.chainID)
        guard recomputed.record != proof.record else { return }
        try expect("method", "\(proof.method)", "\(recomputed.method)")
        try expect("influence count", proof.influence.count, recomputed.influence.count)
        for (rank, (claimed, actual)) in zip(proof.influence, recomputed.influence).enumerated() {
            try expect("influence[\(rank)]", "\(claimed.document) score \(claimed.score) contributor \(claimed.contributor?.hex ?? "none")",
                       "\(actual.document) score \(actual.score) contributor \(actual.contributor?.hex ?? "none")")
        }
        try expect("contributors count", proof.contributors.count, recomputed.contributors.count)
        for (rank, (claimed, actual)) in zip(proof.contributors, recomputed.contributors).enumerated() {
            try expect("contributors[\(rank)]", "\(claimed.address) weight \(claimed.weight)", "\(actual.address) weight \(actual.weight)")
        }
        try expect("spans", "\(proof.spans)", "\(recomputed.spans)")
        throw AttributionProofError.mismatch(field: "record", proof: proof.id.hex, recomputed: recomputed.id.hex)
    }
}
