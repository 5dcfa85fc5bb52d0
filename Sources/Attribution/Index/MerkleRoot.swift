import Crypto

/// A binary Merkle tree of BLAKE2b-256: leaves hashed as `0x00 ‖ data`, inner nodes as
/// `0x01 ‖ left ‖ right`, an odd node at the end of a level carried up unchanged; the root
/// of no leaves is BLAKE2b of the empty string.
enum MerkleRoot {
    static func leaf(_ data: [UInt8]) -> Digest { Digest.blake2b([0x00] + data) }

    static func root(_ leaves: [Digest]) -> Digest {
        guard !leaves.isEmpty else { return Digest.blake2b([UInt8]()) }
        var level = leaves
        while level.count > 1 {
            var next: [Digest] = []
            for index in stride(from: 0, to: level.count, by: 2) {
                next.append(index + 1 < level.count ? Digest.blake2b([0x01] + level[index].bytes + level[index + 1].bytes) : level[index])
            }
            level = next
        }
        return level[0]
    }
}
