import Crypto
import Foundation

/// A provider's signed statement of how one answer was attributed: which inference (request,
/// adapter, base model, prompt and completion tokens), by which method and index, to which
/// documents, contributors and verbatim spans. Another node recomputes it from the adapter,
/// the datanet and the tokens (`AttributionProofCheck`) and accepts only an exact match.
///
/// The signed record is the canonical encoding (`record`, big-endian, `CanonicalWriter`):
///
///     u8 version (2; version 1 named no forward pass)
///     request hash, adapter id, base model hash, prompt tokens hash,
///       completion tokens hash                                  5 × 32 bytes
///     method: string name, bool exact, u32 projection dimension, u64 seed,
///       u64 damping (IEEE-754 bits), u32 span min tokens, string forward
///       (`QueryForward`'s raw value)
///     index root (32 bytes), u32 documents in the index
///     u32 n, n × influence: doc id, u8 has-contributor, contributor (when present),
///       u64 score bits
///     u32 n, n × contributor: address, u64 weight bits
///     u32 n, n × span: string text, u32 start token, u32 end token, u32 count,
///       u32 m, m × doc id
///     provider node key (32 bytes)
///
/// Strings are a u32 length and UTF-8. A token list's hash is BLAKE2b-256 of its tokens as u32
/// big-endian. The proof id is BLAKE2b-256 of the record; the signature is the provider's
/// Ed25519 signature of the record in `SigningDomain.attribution` on the provider's chain.
public struct AttributionProof: Sendable, Equatable {
    public struct Method: Sendable, Equatable {
        public let name: String
        public let exact: Bool
        public let projectionDimension: Int
        public let seed: UInt64
        public let damping: Double
        public let spanMinTokens: Int
        /// How the query's forward pass was split into passes.
        public let forward: QueryForward

        public init(name: String, exact: Bool, projectionDimension: Int, seed: UInt64, damping: Double, spanMinTokens: Int, forward: QueryForward) {
            self.name = name
            self.exact = exact
            self.projectionDimension = projectionDimension
            self.seed = seed
            self.damping = damping
            self.spanMinTokens = spanMinTokens
            self.forward = forward
        }
    }

    public struct Influence: Sendable, Equatable {
        public let document: Digest
        public let contributor: Digest?
        public let score: Double

        public init(document: Digest, contributor: Digest?, score: Double) {
            self.document = document
            self.contributor = contributor
            self.score = score
        }
    }

    public struct Contributor: Sendable, Equatable {
        public let address: Digest
        public let weight: Double

        public init(address: Digest, weight: Double) {
            self.address = address
            self.weight = weight
        }
    }

    public struct Span: Sendable, Equatable {
        public let text: String
        public let startToken: Int
        public let endToken: Int
        public let count: Int
        public let documents: [Digest]

        public init(text: String, startToken: Int, endToken: Int, count: Int, documents: [Digest]) {
            self.text = text
            self.startToken = startToken
            self.endToken = endToken
            self.count = count
            self.documents = documents
        }
    }

    public static let version: UInt8 = 2
    /// Most documents, contributors and spans a proof lists (each).
    public static let entriesMax = 10_000
    /// Longest span text a proof holds, in UTF-8 bytes.
    public static let textBytesMax = 16_384

    /// What makes a proof of these lists larger than a proof may be (the limits a reader
    /// holds it to), or nil when it fits.
    static func sizeDefect(influence: Int, contributors: Int, spanTexts: [String]) -> String? {
        for (count, what, remedy) in [(influence, "documents", " (ask for a smaller top)"), (contributors, "contributors", ""),
                                      (spanTexts.count, "spans", "")] where count > entriesMax {
            return "it would list \(count) \(what); a proof lists at most \(entriesMax)\(remedy)"
        }
        if let long = spanTexts.first(where: { $0.utf8.count > textBytesMax }) {
            return "a verbatim span is \(long.utf8.count) bytes of text; a proof holds spans of at most \(textBytesMax)"
        }
        return nil
    }

    public let chainID: String
    public let requestHash: Digest
    public let adapterID: Digest
    public let baseModel: Digest
    public let promptTokens: [Int32]
    public let completionTokens: [Int32]
    public let method: Method
    public let indexRoot: Digest
    public let documentCount: Int
    /// The top documents by score, highest first, ties by id (`AttributionResult.influence`).
    public let influence: [Influence]
    public let contributors: [Contributor]
    public let spans: [Span]
    public private(set) var provider: PublicKey
    public private(set) var signature: Signature

    /// The exact bytes the signature covers.
    public var record: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 512 + 80 * influence.count)
        writer.write(Self.version)
        for digest in [requestHash, adapterID, baseModel, Self.tokensHash(promptTokens), Self.tokensHash(completionTokens)] { writer.write(digest) }
        writer.write(string: method.name, max: 64)
        writer.write(method.exact)
        writer.write(UInt32(method.projectionDimension))
        writer.write(method.seed)
        writer.write(method.damping.bitPattern)
        writer.write(UInt32(method.spanMinTokens))
        writer.write(string: method.forward.rawValue, max: 16)
        writer.write(indexRoot)
        writer.write(UInt32(documentCount))
        writer.write(UInt32(influence.count))
        for entry in influence {
            writer.write(entry.document)
            writer.write(entry.contributor != nil)
            if let contributor = entry.contributor { writer.write(contributor) }
            writer.write(entry.score.bitPattern)
        }
        writer.write(UInt32(contributors.count))
        for share in contributors {
            writer.write(share.address)
            writer.write(share.weight.bitPattern)
        }
        writer.write(UInt32(spans.count))
        for span in spans {
            writer.write(string: span.text, max: Self.textBytesMax)
            for value in [span.startToken, span.endToken, span.count, span.documents.count] { writer.write(UInt32(value)) }
            for document in span.documents { writer.write(document) }
        }
        writer.write(provider)
        return writer.bytes
    }

    /// The proof's id: BLAKE2b-256 of `record`.
    public var id: Digest { Digest.blake2b(record) }

    /// Whether the provider's signature covers this record.
    public var isSigned: Bool {
        provider.isValidSignature(signature, for: record, domain: .attribution, chainID: chainID)
    }

    /// The base model's hash a proof names: BLAKE2b-256 of the model file's bytes.
    public static func baseModelHash(path: String) throws -> Digest {
        Digest.blake2b(try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped))
    }

    /// BLAKE2b-256 of `tokens` as u32 big-endian.
    public static func tokensHash(_ tokens: [Int32]) -> Digest {
        var writer = CanonicalWriter(reservingCapacity: 4 * tokens.count)
        for token in tokens { writer.write(UInt32(bitPattern: token)) }
        return Digest.blake2b(writer.bytes)
    }

    /// The record of `result` (its first `top` documents; 0: all), signed by `key`; throws
    /// `tooLarge` when the record would exceed a proof's limits (`entriesMax`, `textBytesMax`).
    public init(
        signing result: AttributionResult, top: Int, requestHash: Digest, baseModel: Digest, promptTokens: [Int32], spanMinTokens: Int,
        key: SigningKey, chainID: String
    ) throws(AttributionProofError) {
        self = try AttributionProof(result: result, top: top, requestHash: requestHash, baseModel: baseModel, promptTokens: promptTokens,
                                spanMinTokens: spanMinTokens, provider: key.publicKey, chainID: chainID).signed(by: key)
    }

    /// The record of `result` (its first `top` documents; 0: all) with no signature yet.
    init(result: AttributionResult, top: Int, requestHash: Digest, baseModel: Digest, promptTokens: [Int32], spanMinTokens: Int,
         provider: PublicKey, chainID: String) throws(AttributionProofError) {
        precondition(top >= 0 && !promptTokens.isEmpty, "a proof needs a prompt and a non-negative top")
        let shown = top == 0 ? result.influence : Array(result.influence.prefix(top))
        if let defect = Self.sizeDefect(influence: shown.count, contributors: result.contributors.count, spanTexts: result.spans.map(\.text)) {
            throw .tooLarge(defect)
        }
        self.init(
            chainID: chainID, requestHash: requestHash, adapterID: result.adapterID, baseModel: baseModel, promptTokens: promptTokens,
            completionTokens: result.completionTokens,
            method: Method(name: result.method.rawValue, exact: result.exact, projectionDimension: result.projectionDimension, seed: result.seed,
                           damping: result.method.damping, spanMinTokens: spanMinTokens, forward: result.forward),
            indexRoot: result.indexRoot, documentCount: result.documentIDs.count,
            influence: shown.map { Influence(document: $0.document, contributor: $0.contributor, score: $0.score) },
            contributors: result.contributors.map { Contributor(address: $0.address, weight: $0.weight) },
            spans: result.spans.map { span in
                Span(text: span.text, startToken: span.startToken, endToken: span.endToken, count: span.count,
                     documents: span.documents.map { Digest(hex: result.documentIDs[$0])! })
            },
            provider: provider, signature: Signature(Array(repeating: 0, count: Signature.count))!)
    }

    public init(
        chainID: String, requestHash: Digest, adapterID: Digest, baseModel: Digest, promptTokens: [Int32], completionTokens: [Int32],
        method: Method, indexRoot: Digest, documentCount: Int, influence: [Influence], contributors: [Contributor], spans: [Span],
        provider: PublicKey, signature: Signature
    ) {
        self.chainID = chainID
        self.requestHash = requestHash
        self.adapterID = adapterID
        self.baseModel = baseModel
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.method = method
        self.indexRoot = indexRoot
        self.documentCount = documentCount
        self.influence = influence
        self.contributors = contributors
        self.spans = spans
        self.provider = provider
        self.signature = signature
    }

    /// The same record signed by `key` (which becomes the provider).
    public func signed(by key: SigningKey) -> AttributionProof {
        var proof = self
        proof.provider = key.publicKey
        proof.signature = key.sign(proof.record, domain: .attribution, chainID: chainID)
        return proof
    }
}

extension SigningDomain {
    /// A provider's attribution proof.
    public static let attribution = SigningDomain(tag: "tributary/attribution/v1")
}
