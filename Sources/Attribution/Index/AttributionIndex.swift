import Crypto
import Foundation
import Inference

/// What attribution keeps beside an adapter about every document of its datanet: the
/// document's id and contributor and its gradient's projected features (`GradientProjection`),
/// with the settings that made them and a Merkle root a proof names. The span index lives in
/// its own file next to it; its digest is recorded here.
///
/// File (`index.bin`, all integers little-endian):
///
///     "TRBATTR1"                                  8 bytes
///     u32 version (4), u32 blocks, u32 documents, u32 features
///     u64 projection seed, u32 feature budget, u32 max tokens per document
///     adapter id, span index digest, root          3 × 32 bytes
///     per block: u32 entries (d_l), u32 features (k_l)
///     BLAKE2b-256 of all the bytes above           32 bytes
///     per document: id (32 bytes), u32 has-contributor (0|1), contributor (32 bytes, zero
///       when absent), u32 target tokens
///     per document: its features' scale (float32), then its features as int4 levels, two
///       to a byte, ⌈features/2⌉ bytes (`FeatureMatrix.quantize`, packing in `FeatureMatrix`)
///
/// Blocks get features in proportion to their gradients' energy (`AttributionIndexBuilder`),
/// 32,760 in all by default: with the scale, 16 KB per document. Versions 2 (float32) and 3
/// (int8 levels, 16,380 features) are refused with their version; `tributary attribute
/// index` rebuilds them.
///
/// The root is Crypto's `MerkleRoot` (BLAKE2b of nothing when there are no documents) over
/// one leaf per document, `id ‖ contributor (zero when absent) ‖ BLAKE2b(its scale's 4 bytes
/// ‖ its packed levels)`; the header checksum covers the settings the root does not (seed, budget,
/// lengths, blocks). Per-block constants (squared norms, DataInf's λ) are not stored: they are
/// recomputed from the features on reading (`FeatureMatrix`), so they cannot disagree with them.
public struct AttributionIndex: Sendable {
    /// One indexed document.
    public struct Document: Sendable, Equatable {
        /// BLAKE2b-256 of the document's text.
        public let id: Digest
        public let contributor: Digest?
        /// Tokens the document's loss was over (0: too short to have a gradient).
        public let targetCount: Int
    }

    public static let fileName = "index.bin"
    public static let spanFileName = "spans.index"
    static let magic = Array("TRBATTR1".utf8)
    static let version: UInt32 = 4

    public let adapterID: Digest
    public let seed: UInt64
    public let featureBudget: Int
    public let maxTokensPerDocument: Int
    /// Entries and features of every block (with the adapter, these rebuild the projection).
    public let blockEntries: [Int]
    public let blockFeatures: [Int]
    public let documents: [Document]
    /// The documents' features, one row per document.
    public let features: FeatureMatrix
    public let spanDigest: Digest

    public var featureCount: Int { blockFeatures.reduce(0, +) }
    /// Bytes each document's features take in the file: its packed levels and their scale.
    public var featureBytesPerDocument: Int { FeatureMatrix.rowBytes(width: featureCount) + 4 }

    /// The Merkle root over (document id, contributor, BLAKE2b of its stored features).
    public let root: Digest

    static func root(documents: [Document], features: FeatureMatrix) -> Digest {
        MerkleRoot.root(leaves: documents.indices.map { index in
            let featureHash = Digest.blake2b(withUnsafeBytes(of: features.scales[index].bitPattern.littleEndian) { Array($0) } + features.packedRow(index))
            return MerkleRoot.leaf(documents[index].id.bytes + (documents[index].contributor ?? .zero).bytes + featureHash.bytes)
        }, empty: Digest.blake2b([UInt8]()))
    }

    public init(
        adapterID: Digest, seed: UInt64, featureBudget: Int, maxTokensPerDocument: Int, blockEntries: [Int], blockFeatures: [Int],
        documents: [Document], features: FeatureMatrix, spanDigest: Digest
    ) {
        precondition(blockEntries.count == blockFeatures.count && features.count == documents.count
                     && features.blocks == GradientBlocks.ranges(blockFeatures), "index parts disagree")
        self.adapterID = adapterID
        self.seed = seed
        self.featureBudget = featureBudget
        self.maxTokensPerDocument = maxTokensPerDocument
        self.blockEntries = blockEntries
        self.blockFeatures = blockFeatures
        self.documents = documents
        self.features = features
        self.spanDigest = spanDigest
        root = Self.root(documents: documents, features: features)
    }

    /// Writes `index.bin` into `directory` (temporary file, fsync, rename).
    public func write(to directory: String) throws {
        var bytes = Self.magic
        func u32(_ value: Int) { withUnsafeBytes(of: UInt32(value).littleEndian) { bytes += $0 } }
        u32(Int(Self.version)); u32(blockEntries.count); u32(documents.count); u32(featureCount)
        withUnsafeBytes(of: seed.littleEndian) { bytes += $0 }
        u32(featureBudget); u32(maxTokensPerDocument)
        bytes += adapterID.bytes + spanDigest.bytes + root.bytes
        for (entries, count) in zip(blockEntries, blockFeatures) { u32(entries); u32(count) }
        bytes += Digest.blake2b(bytes).bytes
        for document in documents {
            bytes += document.id.bytes
            u32(document.contributor == nil ? 0 : 1)
            bytes += (document.contributor ?? .zero).bytes
            u32(document.targetCount)
        }
        for k in 0..<features.count {
            withUnsafeBytes(of: features.scales[k].bitPattern.littleEndian) { bytes += $0 }
            bytes += features.packedRow(k)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        do {
            try bytes.withUnsafeBytes { raw in try DurableFile.replace(path, with: raw) }
        } catch {
            throw AttributionIndexError(path: path, reason: "\(error)")
        }
    }

    /// Reads `index.bin` from `directory`, checking its shape and its root.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        guard let data = FileManager.default.contents(atPath: path) else { throw AttributionIndexError(path: path, reason: "missing or unreadable") }
        let bytes = [UInt8](data)
        var offset = 0
        func fail(_ reason: String) -> AttributionIndexError { AttributionIndexError(path: path, reason: reason) }
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= bytes.count else { throw fail("truncated at byte \(offset)") }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }
        func u32() throws -> Int { Int(try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
        func digest() throws -> Digest { Digest(Bytes32(Array(try take(32)))!) }
        guard Array(try take(8)) == Self.magic else { throw fail("not an attribution index") }
        let version = try u32()
        guard version == Int(Self.version) else {
            throw fail("index version \(version), this build reads version \(Self.version)")
        }
        let blockCount = try u32(), documentCount = try u32(), featureCount = try u32()
        let seed = try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let budget = try u32(), maxTokens = try u32()
        let adapterID = try digest(), spanDigest = try digest(), storedRoot = try digest()
        var entries: [Int] = [], counts: [Int] = []
        guard blockCount <= bytes.count, documentCount <= bytes.count else { throw fail("counts exceed the file") }
        for _ in 0..<blockCount { entries.append(try u32()); counts.append(try u32()) }
        let headerEnd = offset
        guard Array(try take(32)) == Digest.blake2b(Array(bytes[..<headerEnd])).bytes else { throw fail("the header does not match its checksum") }
        guard counts.reduce(0, { $0 + $1 }) == featureCount else { throw fail("block features do not add up to \(featureCount)") }
        var documents: [Document] = []
        for _ in 0..<documentCount {
            let id = try digest(), flag = try u32(), contributor = try digest(), targets = try u32()
            guard flag <= 1 else { throw fail("bad contributor flag") }
            documents.append(Document(id: id, contributor: flag == 1 ? contributor : nil, targetCount: targets))
        }
        guard documentCount > 0, featureCount > 0 else { throw fail("an index needs documents and features") }
        let rowBytes = FeatureMatrix.rowBytes(width: featureCount)
        let (featureBytes, overflow) = documentCount.multipliedReportingOverflow(by: 4 + rowBytes)
        guard !overflow, featureBytes <= bytes.count - offset else { throw fail("\(documentCount) rows of \(featureCount) features exceed the file") }
        var scales: [Float] = [], packed: [UInt8] = []
        scales.reserveCapacity(documentCount)
        packed.reserveCapacity(documentCount * rowBytes)
        for _ in 0..<documentCount {
            let scale = Float(bitPattern: try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard scale.isFinite, scale >= 0 else { throw fail("a feature scale is not a finite non-negative number") }
            scales.append(scale)
            packed += try take(rowBytes)
        }
        guard offset == bytes.count else { throw fail("\(bytes.count - offset) bytes after the features") }
        guard FeatureMatrix.validPacking(packed, width: featureCount) else {
            throw fail("a feature level is −8 or a row's padding is not zero (levels are −7…7)")
        }
        self.init(adapterID: adapterID, seed: seed, featureBudget: budget, maxTokensPerDocument: maxTokens, blockEntries: entries,
                  blockFeatures: counts, documents: documents,
                  features: FeatureMatrix(packed: packed, scales: scales, width: featureCount, blocks: GradientBlocks.ranges(counts)), spanDigest: spanDigest)
        guard root == storedRoot else { throw fail("the documents and features do not hash to the recorded root") }
    }
}

/// An attribution index file that cannot be used.
public struct AttributionIndexError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "attribution index \(path): \(reason)" }
}
