/// Binary Merkle roots of BLAKE2b-256: a leaf is `BLAKE2b(0x00 ‖ data)`, an inner node
/// `BLAKE2b(0x01 ‖ left ‖ right)`, and a node left without a partner at the end of a level
/// is carried up unchanged.
public enum MerkleRoot {
    /// The leaf of `data`.
    public static func leaf(_ data: [UInt8]) -> Digest { Digest.blake2b([0x00] + data) }

    /// The root over `leaves` (already hashed by `leaf`), or `empty` when there are none.
    public static func root(leaves: [Digest], empty: Digest) -> Digest {
        guard !leaves.isEmpty else { return empty }
        var level = leaves
        while level.count > 1 {
            var next: [Digest] = []
            next.reserveCapacity((level.count + 1) / 2)
            for index in stride(from: 0, to: level.count, by: 2) {
                next.append(index + 1 < level.count ? Digest.blake2b([0x01] + level[index].bytes + level[index + 1].bytes) : level[index])
            }
            level = next
        }
        assert(level.count == 1, "a Merkle level shrinks to one root")
        return level[0]
    }

    /// The root over a list of digests, each its own leaf; the zero digest for none (a block's
    /// `transactionsRoot`).
    public static func of(_ digests: [Digest]) -> Digest {
        root(leaves: digests.map { leaf($0.bytes) }, empty: .zero)
    }
}
