import Crypto

/// The authenticated state: a binary Merkle trie over the BLAKE2b-256 hashes of state keys,
/// whose root is the block's app hash.
///
/// Structure (canonical: it depends only on the set of key/value pairs):
/// - each state entry is a leaf at path `blake2b(key bytes)`, hashed as
///   `blake2b(0x00 || path || blake2b(value))`;
/// - a subtree holding no entry hashes to 32 zero bytes; a subtree holding exactly one entry
///   is that entry's leaf, stored at the subtree's own position (path compression);
/// - a subtree holding two or more entries is an internal node hashed as
///   `blake2b(0x01 || left || right)`, split by the next bit of the path (0 left, 1 right).
///
/// Nodes are stored by position (depth + path prefix), so an update touches only the nodes
/// on the changed paths: a block's cost is O(changes × log(state size)), not O(state size).
public enum StateTree {
    /// One changed entry: its path and the hash of its new value, nil when deleted.
    public struct Change: Sendable {
        public let path: Bytes32
        public let valueHash: Digest?

        public init(path: Bytes32, valueHash: Digest?) {
            self.path = path
            self.valueHash = valueHash
        }

        public init(key: [UInt8], value: [UInt8]?) {
            self.path = Digest.blake2b(key).bytes32
            self.valueHash = value.map { Digest.blake2b($0) }
        }
    }

    /// The new root and the node writes (nil = delete) that bring the stored trie to it.
    public struct Update: Sendable {
        public let rootHash: Digest
        public let writes: [TreePosition: TreeNode?]
    }

    public static func leafHash(path: Bytes32, valueHash: Digest) -> Digest {
        var bytes = [UInt8](repeating: 0, count: 65)
        path.withUnsafeBytes { bytes.replaceSubrange(1..<33, with: $0) }
        valueHash.bytes32.withUnsafeBytes { bytes.replaceSubrange(33..<65, with: $0) }
        return Digest.blake2b(bytes)
    }

    public static func internalHash(left: Digest, right: Digest) -> Digest {
        var bytes = [UInt8](repeating: 1, count: 65)
        left.bytes32.withUnsafeBytes { bytes.replaceSubrange(1..<33, with: $0) }
        right.bytes32.withUnsafeBytes { bytes.replaceSubrange(33..<65, with: $0) }
        return Digest.blake2b(bytes)
    }

    /// The root hash of the stored trie.
    public static func rootHash(reading node: (TreePosition) -> TreeNode?) -> Digest {
        node(.root)?.hash ?? .zero
    }

    /// Applies `changes` (any order; at most one per path) to the trie read through `node`.
    public static func update(_ changes: [Change], reading node: (TreePosition) -> TreeNode?) -> Update {
        let sorted = changes.sorted { $0.path < $1.path }
        for index in sorted.indices.dropFirst() {
            precondition(sorted[index - 1].path != sorted[index].path, "two changes for one path")
        }
        return withoutActuallyEscaping(node) { read in
            var updater = Updater(read: read)
            let root = updater.update(.root, current: read(.root), changes: sorted[...])
            updater.place(root, at: .root)
            return Update(rootHash: root.hash, writes: updater.writes)
        }
    }
}

/// A node's place in the trie: its depth and the path bits leading to it.
public struct TreePosition: Hashable, Sendable {
    public let depth: Int
    /// The first `depth` bits of the path; later bits are zero.
    public let prefix: Bytes32

    public static let root = TreePosition(depth: 0, prefix: .zero)

    public func child(_ bit: Bool) -> TreePosition {
        precondition(depth < 256, "a leaf position has no children")
        guard bit else { return TreePosition(depth: depth + 1, prefix: prefix) }
        let withBit = Bytes32 { out in
            prefix.withUnsafeBytes { out.copyMemory(from: $0) }
            out[depth >> 3] |= 0x80 >> UInt8(depth & 7)
        }
        return TreePosition(depth: depth + 1, prefix: withBit)
    }

    /// Storage key: depth as big-endian u16, then the prefix.
    public var key: [UInt8] {
        [UInt8(depth >> 8), UInt8(depth & 0xff)] + prefix.bytes
    }
}

/// A stored trie node.
public enum TreeNode: Hashable, Sendable {
    case leaf(path: Bytes32, valueHash: Digest)
    case `internal`(left: Digest, right: Digest)

    public var hash: Digest {
        switch self {
        case let .leaf(path, valueHash): StateTree.leafHash(path: path, valueHash: valueHash)
        case let .internal(left, right): StateTree.internalHash(left: left, right: right)
        }
    }

    /// 65 bytes: a tag byte (0 leaf, 1 internal) and two 32-byte fields.
    public var encoded: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 65)
        switch self {
        case let .leaf(path, valueHash): writer.write(UInt8(0)); writer.write(path); writer.write(valueHash)
        case let .internal(left, right): writer.write(UInt8(1)); writer.write(left); writer.write(right)
        }
        return writer.bytes
    }

    public init(encoded bytes: [UInt8]) throws(CanonicalDecodingError) {
        var reader = CanonicalReader(bytes)
        switch try reader.readUInt8() {
        case 0: self = .leaf(path: try reader.readBytes32(), valueHash: try reader.readDigest())
        case 1: self = .internal(left: try reader.readDigest(), right: try reader.readDigest())
        case let tag: throw .unknownTag(type: "tree node", tag: tag)
        }
        try reader.finish()
    }
}

/// The recursive part of `StateTree.update`. Each call returns what now stands at its own
/// position and records writes for its children's positions; the caller places the result.
private struct Updater {
    let read: (TreePosition) -> TreeNode?
    var writes: [TreePosition: TreeNode?] = [:]

    enum Summary {
        case empty
        case node(TreeNode)
        /// The stored node at this position is untouched; only its hash is known.
        case unchanged(Digest)

        /// An untouched child of an internal node, known by the hash the node records.
        init(untouched hash: Digest) {
            self = hash == .zero ? .empty : .unchanged(hash)
        }

        var hash: Digest {
            switch self {
            case .empty: .zero
            case let .node(node): node.hash
            case let .unchanged(hash): hash
            }
        }
    }

    mutating func place(_ summary: Summary, at position: TreePosition) {
        switch summary {
        case .empty: writes[position] = .some(nil)
        case let .node(node): writes[position] = node
        case .unchanged: break
        }
    }

    mutating func update(_ position: TreePosition, current: TreeNode?, changes: ArraySlice<StateTree.Change>) -> Summary {
        guard !changes.isEmpty else { return current.map { .unchanged($0.hash) } ?? .empty }
        switch current {
        case nil:
            return build(position, leaves: changes.filter { $0.valueHash != nil })
        case let .leaf(path, valueHash):
            var leaves = changes.filter { $0.valueHash != nil }
            if !changes.contains(where: { $0.path == path }) {
                let index = leaves.firstIndex { path < $0.path } ?? leaves.endIndex
                leaves.insert(StateTree.Change(path: path, valueHash: valueHash), at: index)
            }
            return build(position, leaves: leaves[...])
        case let .internal(leftHash, rightHash):
            let split = changes.firstIndex { $0.path.bit(position.depth) } ?? changes.endIndex
            let leftPosition = position.child(false)
            let rightPosition = position.child(true)
            let left = changes[..<split].isEmpty
                ? Summary(untouched: leftHash)
                : update(leftPosition, current: read(leftPosition), changes: changes[..<split])
            let right = changes[split...].isEmpty
                ? Summary(untouched: rightHash)
                : update(rightPosition, current: read(rightPosition), changes: changes[split...])
            return combine(position, left: left, right: right)
        }
    }

    /// A fresh subtree for `leaves` (sorted, distinct) at a position with nothing below it.
    mutating func build(_ position: TreePosition, leaves: ArraySlice<StateTree.Change>) -> Summary {
        switch leaves.count {
        case 0:
            return .empty
        case 1:
            return .node(.leaf(path: leaves.first!.path, valueHash: leaves.first!.valueHash!))
        default:
            let split = leaves.firstIndex { $0.path.bit(position.depth) } ?? leaves.endIndex
            let leftPosition = position.child(false)
            let rightPosition = position.child(true)
            let left = build(leftPosition, leaves: leaves[..<split])
            let right = build(rightPosition, leaves: leaves[split...])
            place(left, at: leftPosition)
            place(right, at: rightPosition)
            return .node(.internal(left: left.hash, right: right.hash))
        }
    }

    /// What an internal node becomes after its children changed: still internal, a single leaf
    /// promoted to this position, or empty.
    mutating func combine(_ position: TreePosition, left: Summary, right: Summary) -> Summary {
        let leftPosition = position.child(false)
        let rightPosition = position.child(true)
        let single: (Summary, TreePosition)?
        switch (left, right) {
        case (.empty, .empty): single = nil
        case (.empty, _): single = (right, rightPosition)
        case (_, .empty): single = (left, leftPosition)
        default:
            place(left, at: leftPosition)
            place(right, at: rightPosition)
            return .node(.internal(left: left.hash, right: right.hash))
        }
        guard let (survivor, survivorPosition) = single else {
            writes[leftPosition] = .some(nil)
            writes[rightPosition] = .some(nil)
            return .empty
        }
        let survivorNode: TreeNode
        switch survivor {
        case let .node(node): survivorNode = node
        case .unchanged: survivorNode = read(survivorPosition)!
        case .empty: preconditionFailure("unreachable")
        }
        if case .leaf = survivorNode {
            writes[leftPosition] = .some(nil)
            writes[rightPosition] = .some(nil)
            return .node(survivorNode)
        }
        place(left, at: leftPosition)
        place(right, at: rightPosition)
        return .node(.internal(left: left.hash, right: right.hash))
    }
}
