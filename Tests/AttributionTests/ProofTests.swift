import Attribution
import Crypto
import Foundation
import Testing

/// The proof's record, id, signature and JSON, without a model: what is signed round-trips
/// exactly through JSON, and any edit or another chain is refused on reading.
@Suite struct ProofTests {
    static func digest(_ label: String) -> Digest { Digest.blake2b(Array(label.utf8)) }

    static func proof(key: SigningKey, chainID: String = "prooftest") -> AttributionProof {
        // Scores and weights as the grids make them: not short decimals.
        let scores = [0.1 + 0.2, -1.0 / 3.0, Double.leastNonzeroMagnitude, 2.5e-9]
        return AttributionProof(
            chainID: chainID, requestHash: digest("request"), adapterID: digest("adapter"), baseModel: digest("model"),
            promptTokens: [1, 2, 3], completionTokens: [49151, 0],
            method: .init(name: "cosine", exact: false, projectionDimension: 4080, seed: .max, damping: 0.1, spanMinTokens: 6, forward: .generation),
            indexRoot: digest("root"), documentCount: 1300,
            influence: scores.enumerated().map { .init(document: digest("doc\($0.offset)"), contributor: $0.offset == 1 ? nil : digest("c"), score: $0.element) },
            contributors: [.init(address: digest("c"), weight: 1.0 / 3.0 * 3.0), .init(address: digest("d"), weight: Double(sign: .plus, exponent: -40, significand: 1))],
            spans: [.init(text: " Quelspire, a \"walled\" town ✓", startToken: 0, endToken: 7, count: 2, documents: [digest("doc0"), digest("doc2")])],
            provider: key.publicKey, signature: Signature(Array(repeating: 0, count: 64))!
        ).signed(by: key)
    }

    @Test func aSignedProofRoundTripsThroughJSONBitForBit() throws {
        let key = SigningKey()
        let proof = Self.proof(key: key)
        #expect(proof.isSigned)
        let read = try AttributionProof(json: proof.json())
        #expect(read == proof && read.record == proof.record && read.id == proof.id)
        #expect(zip(read.influence, proof.influence).allSatisfy { $0.score.bitPattern == $1.score.bitPattern })
    }

    @Test func editsAndOtherChainsAreRefused() throws {
        let key = SigningKey()
        let proof = Self.proof(key: key)
        let object = try JSONSerialization.jsonObject(with: proof.json()) as! [String: Any]
        func read(_ change: (inout [String: Any]) -> Void) -> AttributionProofError? {
            var edited = object
            change(&edited)
            do {
                _ = try AttributionProof(json: JSONSerialization.data(withJSONObject: edited))
                return nil
            } catch { return error as? AttributionProofError }
        }
        #expect(read { _ in } == nil)
        var error = read { o in var shares = o["contributors"] as! [[String: Any]]; shares[0]["weight"] = 0.5; o["contributors"] = shares }
        #expect(error.map { "\($0)" }?.contains("not the hash of the record") == true)
        error = read { o in o["completion_tokens"] = [49151, 1] }
        #expect(error != nil)
        // A consistent id (recomputed over the edited record) still fails the signature.
        let forged = AttributionProof(
            chainID: proof.chainID, requestHash: proof.requestHash, adapterID: proof.adapterID, baseModel: proof.baseModel,
            promptTokens: proof.promptTokens, completionTokens: proof.completionTokens, method: proof.method, indexRoot: proof.indexRoot,
            documentCount: proof.documentCount, influence: Array(proof.influence.reversed()), contributors: proof.contributors, spans: proof.spans,
            provider: proof.provider, signature: proof.signature)
        #expect(throws: AttributionProofError.badSignature(provider: key.publicKey.hex)) { try AttributionProof(json: forged.json()) }
        error = read { o in o["chain_id"] = "otherchain" }
        #expect(error != nil)
        // Another forward pass is another record; a proof naming none (record version 1) or an
        // unknown one is refused, saying why.
        error = read { o in var m = o["method"] as! [String: Any]; m["forward"] = "single_pass"; o["method"] = m }
        #expect(error.map { "\($0)" }?.contains("not the hash of the record") == true)
        error = read { o in var m = o["method"] as! [String: Any]; m["forward"] = nil; o["method"] = m }
        #expect(error.map { "\($0)" }?.contains("record version 1") == true)
        error = read { o in var m = o["method"] as! [String: Any]; m["forward"] = "sideways"; o["method"] = m }
        #expect(error.map { "\($0)" }?.contains("unknown forward 'sideways'") == true)
        #expect(read { o in o["adapter"] = "zz" }.map { "\($0)" }?.contains("adapter is not 64 hex digits") == true)
        #expect(throws: AttributionProofError.self) { try AttributionProof(json: Data("{}".utf8)) }
    }

    /// What a reader refuses as too large, with the limit named: more documents than
    /// `entriesMax`, a span text longer than `textBytesMax` (checked before the record is formed).
    @Test func oversizeProofsAreRefusedWithTheLimit() throws {
        let key = SigningKey()
        let proof = Self.proof(key: key)
        let many = AttributionProof(
            chainID: proof.chainID, requestHash: proof.requestHash, adapterID: proof.adapterID, baseModel: proof.baseModel,
            promptTokens: proof.promptTokens, completionTokens: proof.completionTokens, method: proof.method, indexRoot: proof.indexRoot,
            documentCount: AttributionProof.entriesMax + 1,
            influence: (0...AttributionProof.entriesMax).map { .init(document: Self.digest("doc\($0)"), contributor: nil, score: 1) },
            contributors: proof.contributors, spans: proof.spans, provider: proof.provider, signature: proof.signature
        ).signed(by: key)
        #expect(throws: AttributionProofError.malformed("it would list 10001 documents; a proof lists at most 10000 (ask for a smaller top)")) {
            try AttributionProof(json: many.json())
        }
        var object = try JSONSerialization.jsonObject(with: proof.json()) as! [String: Any]
        var spans = object["spans"] as! [[String: Any]]
        spans[0]["text"] = String(repeating: "=", count: AttributionProof.textBytesMax + 1)
        object["spans"] = spans
        #expect(throws: AttributionProofError.malformed("a verbatim span is 16385 bytes of text; a proof holds spans of at most 16384")) {
            try AttributionProof(json: JSONSerialization.data(withJSONObject: object))
        }
    }

    @Test func tokenHashesAreBigEndianWords() {
        #expect(AttributionProof.tokensHash([1, 258]) == Digest.blake2b([0, 0, 0, 1, 0, 0, 1, 2] as [UInt8]))
    }
}
