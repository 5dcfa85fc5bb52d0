import Crypto
import Foundation

/// The proof as JSON (`proof.json`, `GET /v1/attributions/{id}`): every field of the signed
/// record, the token lists themselves, the id and the signature.
///
///     {"id", "chain_id", "provider", "signature", "request_hash", "adapter", "base_model",
///      "prompt_tokens": [...], "completion_tokens": [...],
///      "method": {"name", "exact", "projection_dimension", "seed", "damping", "span_min_tokens", "forward"},
///      "index_root", "documents",
///      "influence": [{"doc", "contributor", "score"}], "contributors": [{"address", "weight"}],
///      "spans": [{"text", "start_token", "end_token", "count", "docs": [...]}]}
///
/// Digests and keys are lowercase hex; numbers are JSON numbers written so they read back to
/// the same float64. Reading checks the id against the record and the signature.
extension AttributionProof {
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(Wire(self))
    }

    /// Reads a proof, refusing one whose id does not match its record or whose signature does
    /// not verify.
    public init(json: Data) throws {
        let wire: Wire
        do { wire = try JSONDecoder().decode(Wire.self, from: json) } catch { throw AttributionProofError.malformed("\(error)") }
        self = try wire.proof()
        guard id.hex == wire.id else { throw AttributionProofError.malformed("the id \(wire.id) is not the hash of the record (\(id.hex))") }
        guard isSigned else { throw AttributionProofError.badSignature(provider: provider.hex) }
    }

    private struct Wire: Codable {
        struct Method: Codable {
            let name: String, exact: Bool, projection_dimension: Int, seed: UInt64, damping: Double, span_min_tokens: Int
            /// Absent from proofs made before record version 2.
            let forward: String?
        }
        struct Influence: Codable { let doc: String, contributor: String?, score: Double }
        struct Contributor: Codable { let address: String, weight: Double }
        struct Span: Codable { let text: String, start_token: Int, end_token: Int, count: Int, docs: [String] }

        let id, chain_id, provider, signature, request_hash, adapter, base_model, index_root: String
        let prompt_tokens, completion_tokens: [Int32]
        let method: Method
        let documents: Int
        let influence: [Influence]
        let contributors: [Contributor]
        let spans: [Span]

        init(_ proof: AttributionProof) {
            id = proof.id.hex
            chain_id = proof.chainID
            provider = proof.provider.hex
            signature = proof.signature.hex
            request_hash = proof.requestHash.hex
            adapter = proof.adapterID.hex
            base_model = proof.baseModel.hex
            index_root = proof.indexRoot.hex
            prompt_tokens = proof.promptTokens
            completion_tokens = proof.completionTokens
            let m = proof.method
            method = Method(name: m.name, exact: m.exact, projection_dimension: m.projectionDimension, seed: m.seed, damping: m.damping,
                            span_min_tokens: m.spanMinTokens, forward: m.forward.rawValue)
            documents = proof.documentCount
            influence = proof.influence.map { Influence(doc: $0.document.hex, contributor: $0.contributor?.hex, score: $0.score) }
            contributors = proof.contributors.map { Contributor(address: $0.address.hex, weight: $0.weight) }
            spans = proof.spans.map { Span(text: $0.text, start_token: $0.startToken, end_token: $0.endToken, count: $0.count, docs: $0.documents.map(\.hex)) }
        }

        func proof() throws -> AttributionProof {
            func digest(_ hex: String, _ field: String) throws -> Digest {
                guard let value = Digest(hex: hex) else { throw AttributionProofError.malformed("\(field) is not 64 hex digits: \(hex)") }
                return value
            }
            func count(_ value: Int, _ field: String) throws -> Int {
                guard (0...Int(UInt32.max)).contains(value) else { throw AttributionProofError.malformed("\(field) \(value) is out of range") }
                return value
            }
            guard let providerKey = PublicKey(hex: provider) else { throw AttributionProofError.malformed("provider is not a public key: \(provider)") }
            guard let signatureValue = Signature(hex: signature) else { throw AttributionProofError.malformed("signature is not 128 hex digits") }
            guard chain_id.utf8.count <= SigningDomain.chainIDMaxBytes, method.name.utf8.count <= 64 else {
                throw AttributionProofError.malformed("the chain id or the method name exceeds its limit")
            }
            guard let forwardName = method.forward else {
                throw AttributionProofError.malformed("the method names no forward pass: a proof of record version 1, made before 2026-12-06, which this build cannot recompute")
            }
            guard let forward = QueryForward(rawValue: forwardName) else {
                throw AttributionProofError.malformed("unknown forward '\(forwardName)' (known: \(QueryForward.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if let defect = AttributionProof.sizeDefect(influence: influence.count, contributors: contributors.count, spanTexts: spans.map(\.text)) {
                throw AttributionProofError.malformed(defect)
            }
            return AttributionProof(
                chainID: chain_id, requestHash: try digest(request_hash, "request_hash"), adapterID: try digest(adapter, "adapter"),
                baseModel: try digest(base_model, "base_model"), promptTokens: prompt_tokens, completionTokens: completion_tokens,
                method: .init(name: method.name, exact: method.exact, projectionDimension: try count(method.projection_dimension, "projection_dimension"),
                              seed: method.seed, damping: method.damping, spanMinTokens: try count(method.span_min_tokens, "span_min_tokens"),
                              forward: forward),
                indexRoot: try digest(index_root, "index_root"), documentCount: try count(documents, "documents"),
                influence: try influence.map { .init(document: try digest($0.doc, "doc"), contributor: try $0.contributor.map { try digest($0, "contributor") }, score: $0.score) },
                contributors: try contributors.map { .init(address: try digest($0.address, "address"), weight: $0.weight) },
                spans: try spans.map {
                    .init(text: $0.text, startToken: try count($0.start_token, "start_token"), endToken: try count($0.end_token, "end_token"),
                          count: try count($0.count, "count"), documents: try $0.docs.map { try digest($0, "docs") })
                },
                provider: providerKey, signature: signatureValue)
        }
    }
}

/// Why a proof is refused.
public enum AttributionProofError: Error, CustomStringConvertible, Equatable {
    /// The file is not a well-formed proof, or its id is not its record's hash.
    case malformed(String)
    /// The provider's signature does not cover the record.
    case badSignature(provider: String)
    /// Recomputing the attribution gave something else (`field`: what differs first).
    case mismatch(field: String, proof: String, recomputed: String)
    /// The attribution has more than a proof may hold (`AttributionProof.sizeDefect`).
    case tooLarge(String)

    public var description: String {
        switch self {
        case let .malformed(reason): "not a valid attribution proof: \(reason)"
        case let .badSignature(provider): "the signature does not verify for provider \(provider): the proof was altered after signing"
        case let .mismatch(field, proof, recomputed): "the proof does not match the recomputation: \(field) is \(proof) in the proof, \(recomputed) recomputed"
        case let .tooLarge(reason): "the attribution is too large for a proof: \(reason)"
        }
    }
}
