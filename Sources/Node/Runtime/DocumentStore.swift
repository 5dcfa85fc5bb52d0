import Crypto
import Foundation
import Ledger

/// The node's off-chain document store (`<home>/documents`, RocksDB): the text of documents
/// contributed on chain, by id (the BLAKE2b-256 of the text), and the datanets each was posted
/// under. The chain holds only hashes; what is stored here is checked against them by
/// `DocumentsAPI` before it is written. Writes are synced.
struct DocumentStore: Sendable {
    private enum Family {
        /// id → the text's UTF-8 bytes.
        static let texts = "texts"
        /// id || datanet id → empty: the document was posted under that datanet.
        static let postings = "postings"
    }

    private let database: RocksDatabase

    /// Opens (creating when missing) the store in directory `path`.
    init(path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        database = try RocksDatabase(path: path, columnFamilies: [Family.texts, Family.postings], writeBufferBytes: 8 << 20)
    }

    /// The text of document `id`, if held.
    func text(_ id: Digest) throws(StoreError) -> String? {
        guard let bytes = try database.get(Family.texts, id.bytes) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self), Digest.blake2b(bytes) == id else {
            throw StoreError("document store holds corrupt text for \(id.hex)")
        }
        return text
    }

    /// Whether document `id` is held as posted under `datanet`.
    func holds(_ id: Digest, in datanet: Digest) throws(StoreError) -> Bool {
        try database.get(Family.postings, id.bytes + datanet.bytes) != nil
    }

    /// The datanets document `id` was posted under, in id order.
    func datanets(holding id: Digest) -> [Digest] {
        var datanets: [Digest] = []
        database.scan(Family.postings, prefix: id.bytes) { key, _ in
            guard let raw = Bytes32(key.dropFirst(32)) else { fatalError("corrupt document posting key \(Hex.encode(key))") }
            datanets.append(Digest(raw))
            return true
        }
        return datanets
    }

    /// Stores `text` as document `id` (its BLAKE2b-256) posted under `datanet`, in one synced
    /// write; storing it again changes nothing.
    func store(_ text: String, id: Digest, datanet: Digest) throws(StoreError) {
        let bytes = Array(text.utf8)
        precondition(Digest.blake2b(bytes) == id, "a document is stored under its own hash")
        let batch = RocksDatabase.WriteBatch(for: database)
        batch.put(Family.texts, id.bytes, bytes)
        batch.put(Family.postings, id.bytes + datanet.bytes, [])
        try database.write(batch)
    }
}
