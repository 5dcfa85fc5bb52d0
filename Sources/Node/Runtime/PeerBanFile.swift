import Crypto
import Foundation
import Gossip

/// The peers a node banned, kept in `<home>/peer_bans.json` so a ban outlives a restart:
/// `{"bans": [{"id": "<64 hex>", "until_ms": <unix ms>, "reason": "…", "host": "…"}]}`, with
/// `host` (the numeric address the peer connected from, banned with it) only when it was not
/// loopback. Expired bans are dropped when the file is written.
struct PeerBanFile {
    struct Ban: Codable, Equatable {
        let id: String
        let until_ms: UInt64
        let reason: String
        var host: String? = nil
    }

    private struct Contents: Codable {
        var bans: [Ban]
    }

    let path: String

    /// The bans still in force at `nowMs`; a missing file holds none.
    func load(nowMs: UInt64) throws -> [Ban] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let contents: Contents
        do { contents = try JSONDecoder().decode(Contents.self, from: data) } catch {
            throw CommandError("\(path) is not a peer ban list: \(error)")
        }
        for ban in contents.bans where NodeID(hex: ban.id) == nil {
            throw CommandError("\(path): '\(ban.id)' is not a node id")
        }
        return contents.bans.filter { $0.until_ms > nowMs }
    }

    /// Replaces the file, atomically, with the bans in force at `nowMs`.
    func save(_ bans: [Ban], nowMs: UInt64) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let live = bans.filter { $0.until_ms > nowMs }.sorted { $0.id < $1.id }
        try encoder.encode(Contents(bans: live)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
