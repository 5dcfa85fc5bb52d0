import Consensus
import Crypto
import Ledger
import Testing

@Suite struct StateTreeTests {
    /// The trie's definition written directly: the hash of a set of leaves, split by path bits.
    func referenceRoot(_ leaves: [(path: Bytes32, valueHash: Digest)], depth: Int = 0) -> Digest {
        switch leaves.count {
        case 0: return .zero
        case 1: return StateTree.leafHash(path: leaves[0].path, valueHash: leaves[0].valueHash)
        default:
            let left = leaves.filter { !$0.path.bit(depth) }
            let right = leaves.filter { $0.path.bit(depth) }
            return StateTree.internalHash(left: referenceRoot(left, depth: depth + 1), right: referenceRoot(right, depth: depth + 1))
        }
    }

    /// Applies `changes` to `nodes` (the stored trie) and returns the new root.
    @discardableResult
    func apply(_ changes: [StateTree.Change], to nodes: inout [TreePosition: TreeNode]) -> Digest {
        let snapshot = nodes
        let update = StateTree.update(changes) { snapshot[$0] }
        for (position, node) in update.writes { nodes[position] = node }
        #expect(StateTree.rootHash { nodes[$0] } == update.rootHash)
        return update.rootHash
    }

    @Test func emptyTreeHashesToZero() {
        var nodes: [TreePosition: TreeNode] = [:]
        #expect(apply([], to: &nodes) == .zero)
        #expect(apply([StateTree.Change(key: [1], value: nil)], to: &nodes) == .zero)
        #expect(nodes.isEmpty)
    }

    @Test func singleEntryIsItsLeafAtTheRoot() {
        var nodes: [TreePosition: TreeNode] = [:]
        let change = StateTree.Change(key: [1], value: [2])
        let root = apply([change], to: &nodes)
        #expect(root == StateTree.leafHash(path: change.path, valueHash: change.valueHash!))
        #expect(nodes.count == 1)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomUpdatesMatchTheDefinitionAndStoreNoStaleNodes(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var nodes: [TreePosition: TreeNode] = [:]
        var entries: [[UInt8]: [UInt8]] = [:]
        let keySpace = (0..<300).map { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        for _ in 0..<60 {
            var batch: [[UInt8]: [UInt8]?] = [:]
            for _ in 0..<Int.random(in: 1...40, using: &random) {
                let key = keySpace.randomElement(using: &random)!
                batch[key] = Bool.random(using: &random) ? nil : [UInt8.random(in: 0...255, using: &random)]
            }
            let root = apply(batch.map { StateTree.Change(key: $0.key, value: $0.value) }, to: &nodes)
            for (key, value) in batch { entries[key] = value }
            let leaves = entries.map { (path: Digest.blake2b($0.key).bytes32, valueHash: Digest.blake2b($0.value)) }
            #expect(root == referenceRoot(leaves))

            // The stored nodes are exactly those of a trie built from scratch: no stale nodes.
            var fresh: [TreePosition: TreeNode] = [:]
            apply(entries.map { StateTree.Change(key: $0.key, value: $0.value) }, to: &fresh)
            #expect(fresh == nodes)
        }
        // Deleting everything empties the store.
        apply(entries.keys.map { StateTree.Change(key: $0, value: nil) }, to: &nodes)
        #expect(nodes.isEmpty)
    }

    @Test func rootDoesNotDependOnUpdateGrouping() {
        let changes = (0..<100).map { StateTree.Change(key: [UInt8($0)], value: [UInt8($0), 1]) }
        var together: [TreePosition: TreeNode] = [:]
        let rootTogether = apply(changes, to: &together)
        var oneByOne: [TreePosition: TreeNode] = [:]
        var rootOneByOne = Digest.zero
        for change in changes.reversed() { rootOneByOne = apply([change], to: &oneByOne) }
        #expect(rootTogether == rootOneByOne)
        #expect(together == oneByOne)
    }

    @Test func updateCostFollowsChangesNotStateSize() {
        var nodes: [TreePosition: TreeNode] = [:]
        apply((0..<4_000).map { StateTree.Change(key: Array("key \($0)".utf8), value: [1]) }, to: &nodes)
        var reads = 0
        let snapshot = nodes
        let update = StateTree.update([StateTree.Change(key: Array("key 7".utf8), value: [2])]) { position in
            reads += 1
            return snapshot[position]
        }
        // One path of a ~4000-leaf trie: about log2(4000) ≈ 12 levels, far from 4000.
        #expect(reads < 40)
        #expect(update.writes.count < 40)
    }
}
