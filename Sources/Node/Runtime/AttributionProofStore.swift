import Attribution
import Crypto
import Foundation
import Synchronization

/// Signed proofs on disk, one `<id>.json` per proof (`AttributionProof.json`), written whole
/// (temporary file, rename) so a reader never sees part of one. At most `bytesMax` bytes of
/// proofs are kept: a write past it deletes the oldest first (by modification time, then
/// id), so `GET /v1/attributions/{id}` serves the most recent and the disk does not fill.
final class AttributionProofStore: Sendable {
    let directory: String
    let bytesMax: Int
    /// The proofs held, oldest first, and their total bytes.
    private let held: Mutex<(files: [(id: String, bytes: Int)], bytes: Int)>

    init(directory: String, bytesMax: Int) throws {
        precondition(bytesMax > 0, "a proof store holds some bytes")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var found: [(id: String, bytes: Int, modified: Date)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
            let attributes = try FileManager.default.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(name))
            found.append((String(name.dropLast(5)), (attributes[.size] as? Int) ?? 0, (attributes[.modificationDate] as? Date) ?? .distantPast))
        }
        found.sort { $0.modified != $1.modified ? $0.modified < $1.modified : $0.id < $1.id }
        self.directory = directory
        self.bytesMax = bytesMax
        held = Mutex((found.map { ($0.id, $0.bytes) }, found.reduce(0) { $0 + $1.bytes }))
        evict()
    }

    /// Stores `proof` (the same proof again becomes the newest), then deletes the oldest
    /// proofs while more than `bytesMax` bytes are held (never the one just written).
    func write(_ proof: AttributionProof) throws {
        let json = proof.json(), id = proof.id.hex
        try json.write(to: URL(fileURLWithPath: path(id)), options: .atomic)
        held.withLock { held in
            if let index = held.files.firstIndex(where: { $0.id == id }) {
                held.bytes -= held.files.remove(at: index).bytes
            }
            held.files.append((id, json.count))
            held.bytes += json.count
        }
        evict()
    }

    /// The proof's JSON, or nil when there is none with this id.
    func json(id: Digest) -> Data? { FileManager.default.contents(atPath: path(id.hex)) }

    private func evict() {
        let doomed: [String] = held.withLock { held in
            var count = 0
            while held.bytes > bytesMax && held.files.count - count > 1 {
                held.bytes -= held.files[count].bytes
                count += 1
            }
            assert(held.bytes >= 0, "proof bytes went negative")
            defer { held.files.removeFirst(count) }
            return held.files.prefix(count).map(\.id)
        }
        for id in doomed { try? FileManager.default.removeItem(atPath: path(id)) }
    }

    private func path(_ id: String) -> String { (directory as NSString).appendingPathComponent(id + ".json") }
}
