import Crypto
import Foundation
import Synchronization

/// Where the chain stands: the last committed block and the state it produced.
public struct ChainStatus: Sendable, Equatable {
    public var chainID: String
    public var genesisHash: Digest
    public var height: UInt64
    public var appHash: Digest
    /// The last block's hash; the genesis hash at height 0.
    public var lastBlockHash: Digest
    /// The last block's time (unix ms); genesis time at height 0.
    public var lastBlockTimeMs: UInt64
}

/// The node's persistent chain: blocks, state, state tree, transaction index and metadata in
/// one RocksDB database with a column family each.
///
/// A block is committed as one atomic, synced write batch (block, index, state, the keys it
/// changed and the new height together), so a process killed at any moment reopens at the last
/// committed block, never a torn one. State tree nodes are written at checkpoints, every
/// `treeCheckpointBlocks` blocks (in that block's batch), and held in memory between them: every
/// block rewrites the tree's upper nodes, and writing them each time was most of a block's
/// commit. Reopening rebuilds the nodes since the last checkpoint from the keys the blocks
/// changed and their committed values. `open` checks that the stored height, block, app hash
/// and tree root agree before anything else runs.
public final class ChainStore: StateReader, @unchecked Sendable {
    private enum Family {
        static let blocks = "blocks"
        static let state = "state"
        static let tree = "tree"
        static let transactions = "tx_index"
        static let meta = "meta"
        /// Height → the validator set effective from that height on (written when it changes).
        static let validatorSets = "validator_sets"
        static let all = [blocks, state, tree, transactions, meta, validatorSets]
    }

    private enum MetaKey {
        static let genesis = Array("genesis".utf8)
        static let height = Array("height".utf8)
        static let appHash = Array("app_hash".utf8)
        /// The proposer schedule of the next height.
        static let proposerSchedule = Array("proposer_schedule".utf8)
        /// The height whose state the stored tree nodes hold (absent: the committed height).
        static let treeHeight = Array("tree_height".utf8)
        /// Prefix of `changed_keys || height`: the state keys block `height` changed, kept until
        /// a tree checkpoint covers it.
        static let changedKeys = Array("changed_keys".utf8)

        static func changedKeys(at height: UInt64) -> [UInt8] { MetaKey.changedKeys + height.bigEndianBytes }
    }

    /// Blocks between tree checkpoints, and tree nodes held in memory before one is forced.
    public static let treeCheckpointBlocks: UInt64 = 64
    public static let treePendingNodesMax = 1 << 18

    /// Tree nodes written since the last checkpoint (nil: deleted), and its height.
    private struct PendingTree {
        var nodes: [TreePosition: TreeNode?] = [:]
        var checkpointHeight: UInt64 = 0
    }

    private let database: RocksDatabase
    private let current: Mutex<(status: ChainStatus, schedule: ProposerSchedule)?>
    private let stateCache: ReadCache<StateKey, [UInt8]>
    private let treeCache: ReadCache<TreePosition, TreeNode>
    private let cachedParameters = Mutex<ChainParameters?>(nil)
    private let pendingTree = Mutex(PendingTree())
    /// Serialises commits: each checks the height it extends, then writes.
    private let commitLock = Mutex(())

    /// Opens the store in directory `path` (creating it unless `create` is false) and
    /// reconciles it. State records and tree nodes read or written are cached in memory, up
    /// to `cacheEntries` of each; `writeBufferBytes` sizes RocksDB's memtables.
    public init(path: String, create: Bool = true, cacheEntries: Int = 1 << 18, writeBufferBytes: Int = 64 << 20) throws(StoreError) {
        if create {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw StoreError("cannot create store directory \(path): \(error.localizedDescription)")
            }
        }
        database = try RocksDatabase(path: path, columnFamilies: Family.all, create: create, writeBufferBytes: writeBufferBytes)
        current = Mutex(nil)
        stateCache = ReadCache(capacity: cacheEntries)
        treeCache = ReadCache(capacity: cacheEntries)
        if let reconciled = try reconcile() { current.withLock { $0 = reconciled } }
    }

    /// The committed status; nil until `initialize(genesis:)`.
    public var status: ChainStatus? { current.withLock { $0?.status } }

    /// Who proposes in each round of the next height (`status.height + 1`).
    public var proposerSchedule: ProposerSchedule? { current.withLock { $0?.schedule } }

    /// The genesis this store was initialised with.
    public func genesis() throws(StoreError) -> Genesis? {
        guard let bytes = try database.get(Family.meta, MetaKey.genesis) else { return nil }
        return try decode(Genesis.self, bytes, what: "genesis")
    }

    /// Writes the genesis state on first start; on later starts checks `genesis` is the one stored.
    @discardableResult
    public func initialize(genesis: Genesis) throws(StoreError) -> ChainStatus {
        if let stored = try self.genesis() {
            guard stored.hash == genesis.hash else {
                throw StoreError("the store was initialised with genesis \(stored.hash.hex), not \(genesis.hash.hex)")
            }
            return status!
        }
        let state: [StateKey: [UInt8]?]
        do { state = try genesis.initialState() } catch { throw StoreError("invalid genesis: \(error)") }
        let update = prepareStateUpdate(state)
        let batch = RocksDatabase.WriteBatch(for: database)
        write(state: state, into: batch)
        write(tree: update.writes, into: batch)
        let validators = validatorSet(after: state)
        let schedule = ProposerSchedule(starting: validators)
        batch.put(Family.meta, MetaKey.genesis, genesis.canonicalBytes)
        batch.put(Family.validatorSets, UInt64(1).bigEndianBytes, validators.canonicalBytes)
        batch.put(Family.meta, MetaKey.proposerSchedule, schedule.canonicalBytes)
        batch.put(Family.meta, MetaKey.height, UInt64(0).bigEndianBytes)
        batch.put(Family.meta, MetaKey.appHash, update.rootHash.bytes)
        batch.put(Family.meta, MetaKey.treeHeight, UInt64(0).bigEndianBytes)
        try database.write(batch)
        remember(state: state, tree: update)
        let status = ChainStatus(
            chainID: genesis.chainID, genesisHash: genesis.hash, height: 0, appHash: update.rootHash,
            lastBlockHash: genesis.hash, lastBlockTimeMs: genesis.genesisTime * 1000)
        current.withLock { $0 = (status, schedule) }
        return status
    }

    // MARK: State

    public func value(for key: StateKey) -> [UInt8]? {
        let (hit, generation) = stateCache.lookup(key)
        if let hit { return hit }
        let value = mustRead { () throws(StoreError) in try database.get(Family.state, key.bytes) }
        stateCache.fill(key, value, readAt: generation)
        return value
    }

    public func treeNode(at position: TreePosition) -> TreeNode? {
        if let pending = pendingTree.withLock({ $0.nodes[position] }) { return pending }
        let (hit, generation) = treeCache.lookup(position)
        if let hit { return hit }
        var node: TreeNode?
        if let bytes = mustRead({ () throws(StoreError) in try database.get(Family.tree, position.key) }) {
            do { node = try TreeNode(encoded: bytes) } catch { fatalError("corrupt tree node at depth \(position.depth): \(error)") }
        }
        treeCache.fill(position, node, readAt: generation)
        return node
    }

    /// The chain parameters, fixed at genesis (read once).
    public var parameters: ChainParameters {
        cachedParameters.withLock { cached in
            if let cached { return cached }
            guard let parameters: ChainParameters = record(.parameters) else { fatalError("state has no chain parameters") }
            cached = parameters
            return parameters
        }
    }

    /// The new app hash and tree writes if `writes` were applied to the committed state.
    public func prepareStateUpdate(_ writes: [StateKey: [UInt8]?]) -> StateTree.Update {
        StateTree.update(writes.map { StateTree.Change(key: $0.key.bytes, value: $0.value) }) { treeNode(at: $0) }
    }

    public func keys(of kind: StateKey.Kind, limit: Int) -> [StateKey] {
        precondition(limit >= 0, "a negative limit")
        var result: [StateKey] = []
        guard limit > 0 else { return result }
        database.scan(Family.state, prefix: [kind.rawValue]) { key, _ in
            guard let stateKey = StateKey(bytes: key) else { fatalError("corrupt state key \(Hex.encode(key))") }
            result.append(stateKey)
            return result.count < limit
        }
        return result
    }

    /// Every record of one kind, in key order.
    public func records(of kind: StateKey.Kind) -> [(key: StateKey, value: [UInt8])] {
        var result: [(key: StateKey, value: [UInt8])] = []
        database.scan(Family.state, prefix: [kind.rawValue]) { key, value in
            guard let stateKey = StateKey(bytes: key) else { fatalError("corrupt state key \(Hex.encode(key))") }
            result.append((stateKey, value))
            return true
        }
        return result
    }

    /// The contributions to `datanet` in content-hash order, starting after `after` when given,
    /// at most `limit` of them.
    public func contributions(to datanet: Digest, after: Digest?, limit: Int) -> [(contentHash: Digest, contribution: Contribution)] {
        precondition(limit >= 0, "a negative limit")
        let prefix = [StateKey.Kind.contribution.rawValue] + datanet.bytes
        var result: [(contentHash: Digest, contribution: Contribution)] = []
        guard limit > 0 else { return result }
        database.scan(Family.state, prefix: prefix, from: after.map { prefix + $0.bytes }) { key, value in
            guard case let .contribution(_, contentHash)? = StateKey(bytes: key) else { fatalError("corrupt state key \(Hex.encode(key))") }
            if contentHash == after { return true }
            do { result.append((contentHash, try Contribution(canonicalBytes: value))) } catch {
                fatalError("corrupt contribution record \(contentHash.hex): \(error)")
            }
            return result.count < limit
        }
        return result
    }

    /// Balances plus stakes, unbonding stake and royalty escrows, summed over the whole state: equals the
    /// recorded supply (`StateKey.supply`) whenever the state is consistent. Reads without a
    /// snapshot, so call it while no block commits.
    public func circulatingSupply() throws(StoreError) -> UInt64 {
        func sum<Record: CanonicalCodable>(_ kind: StateKey.Kind, _ type: Record.Type, _ amount: (Record) -> UInt64) throws(StoreError) -> UInt64 {
            var total: UInt64 = 0
            for entry in records(of: kind) { total += amount(try decode(Record.self, entry.value, what: "\(kind) record")) }
            return total
        }
        return try sum(.account, Account.self, \.balance) + sum(.validator, ValidatorRecord.self, \.stake)
            + sum(.unbonding, Unbonding.self, \.total) + sum(.royaltyEscrow, RoyaltyEscrow.self, \.amount)
    }

    // MARK: Validators

    /// The validators that certify the block at `height` (stake changes committed in block H
    /// take effect at H + 2).
    public func validatorSet(forHeight height: UInt64) throws(StoreError) -> ValidatorSet {
        guard let entry = database.lastEntry(Family.validatorSets, atOrBefore: height.bigEndianBytes) else {
            throw StoreError("no validator set recorded at or below height \(height)")
        }
        return try decode(ValidatorSet.self, entry.value, what: "validator set")
    }

    /// The set the validator records would give after `writes` on the committed state.
    private func validatorSet(after writes: [StateKey: [UInt8]?]) -> ValidatorSet {
        var validators: [Address: ValidatorRecord] = [:]
        for (key, value) in records(of: .validator) {
            if case let .validator(address) = key { validators[address] = decodeValidator(value) }
        }
        for (key, value) in writes {
            if case let .validator(address) = key { validators[address] = value.map(decodeValidator) }
        }
        return ValidatorSet(largest: validators.map { ValidatorSet.Member(address: $0.key, power: $0.value.power) })
    }

    private func decodeValidator(_ bytes: [UInt8]) -> ValidatorRecord {
        do { return try ValidatorRecord(canonicalBytes: bytes) } catch { fatalError("corrupt validator record: \(error)") }
    }

    // MARK: Blocks

    /// Commits `block` with the state writes its execution produced, atomically and synced.
    public func commit(_ block: Block, stateWrites: [StateKey: [UInt8]?], tree: StateTree.Update) throws(StoreError) {
        try commitLock.withLock { (_: inout Void) throws(StoreError) in
            try commitLocked(block, stateWrites: stateWrites, tree: tree)
        }
    }

    private func commitLocked(_ block: Block, stateWrites: [StateKey: [UInt8]?], tree: StateTree.Update) throws(StoreError) {
        guard let (status, schedule) = current.withLock({ $0 }) else { throw StoreError("store has no genesis") }
        guard block.header.height == status.height + 1, block.header.previousHash == status.lastBlockHash else {
            throw StoreError("block \(block.header.height) does not extend height \(status.height)")
        }
        guard block.header.appHash == tree.rootHash else {
            throw StoreError("block \(block.header.height) app hash differs from its state update")
        }
        let batch = RocksDatabase.WriteBatch(for: database)
        write(state: stateWrites, into: batch)
        let (pendingCount, checkpointHeight) = pendingTree.withLock { ($0.nodes.count, $0.checkpointHeight) }
        let checkpoint = block.header.height - checkpointHeight >= Self.treeCheckpointBlocks
            || pendingCount + tree.writes.count > Self.treePendingNodesMax
        if checkpoint {
            write(tree: pendingTree.withLock { $0.nodes }.merging(tree.writes) { _, new in new }, into: batch)
            batch.put(Family.meta, MetaKey.treeHeight, block.header.height.bigEndianBytes)
            for height in checkpointHeight + 1..<block.header.height { batch.delete(Family.meta, MetaKey.changedKeys(at: height)) }
        } else {
            batch.put(Family.meta, MetaKey.changedKeys(at: block.header.height), Self.changedKeysRecord(stateWrites.keys))
        }
        let heightKey = block.header.height.bigEndianBytes
        batch.put(Family.blocks, heightKey, block.canonicalBytes)
        if stateWrites.keys.contains(where: { $0.kind == .validator }) {
            let next = validatorSet(after: stateWrites)
            if try validatorSet(forHeight: block.header.height + 1) != next {
                batch.put(Family.validatorSets, (block.header.height + ValidatorSet.changeDelayHeights).bigEndianBytes, next.canonicalBytes)
            }
        }
        for (index, transaction) in block.transactions.enumerated() {
            batch.put(Family.transactions, transaction.hash.bytes, heightKey + UInt32(index).bigEndianBytes)
        }
        let nextSchedule = schedule.nextHeight(validators: try validatorSet(forHeight: block.header.height + 1))
        batch.put(Family.meta, MetaKey.height, heightKey)
        batch.put(Family.meta, MetaKey.appHash, tree.rootHash.bytes)
        batch.put(Family.meta, MetaKey.proposerSchedule, nextSchedule.canonicalBytes)
        try database.write(batch)
        pendingTree.withLock { pending in
            if checkpoint {
                pending = PendingTree(checkpointHeight: block.header.height)
            } else {
                pending.nodes.merge(tree.writes) { _, new in new }
            }
        }
        remember(state: stateWrites, tree: tree)
        let nextStatus = ChainStatus(
            chainID: status.chainID, genesisHash: status.genesisHash, height: block.header.height,
            appHash: tree.rootHash, lastBlockHash: block.hash, lastBlockTimeMs: block.header.timeMs)
        current.withLock { $0 = (nextStatus, nextSchedule) }
    }

    public func block(at height: UInt64) throws(StoreError) -> Block? {
        guard let bytes = try blockBytes(at: height) else { return nil }
        return try decode(Block.self, bytes, what: "block \(height)")
    }

    /// The canonical bytes of the block at `height`, as stored.
    public func blockBytes(at height: UInt64) throws(StoreError) -> [UInt8]? {
        try database.get(Family.blocks, height.bigEndianBytes)
    }

    /// The height and position in its block of a committed transaction.
    public func transactionLocation(_ hash: Digest) throws(StoreError) -> (height: UInt64, index: Int)? {
        guard let bytes = try database.get(Family.transactions, hash.bytes) else { return nil }
        guard bytes.count == 12 else { throw StoreError("corrupt transaction index entry for \(hash.hex)") }
        let height = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let index = bytes.suffix(4).reduce(0) { $0 << 8 | Int($1) }
        return (height, index)
    }

    // MARK: Private

    private func write(state: [StateKey: [UInt8]?], into batch: RocksDatabase.WriteBatch) {
        for (key, value) in state {
            if let value { batch.put(Family.state, key.bytes, value) } else { batch.delete(Family.state, key.bytes) }
        }
    }

    private func write(tree nodes: [TreePosition: TreeNode?], into batch: RocksDatabase.WriteBatch) {
        for (position, node) in nodes {
            if let node { batch.put(Family.tree, position.key, node.encoded) } else { batch.delete(Family.tree, position.key) }
        }
    }

    /// A block's changed keys as stored: `u32` count, then each key's bytes length-prefixed.
    private static func changedKeysRecord(_ keys: some Collection<StateKey>) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.write(UInt32(keys.count))
        for key in keys { writer.write(bytes: key.bytes, max: StateKey.bytesMax) }
        return writer.bytes
    }

    /// Rebuilds the tree nodes of the blocks after the last checkpoint: the keys they changed,
    /// at their committed values, applied to the stored tree.
    private func rebuildPendingTree(from checkpointHeight: UInt64, to height: UInt64) throws(StoreError) {
        var keys = Set<StateKey>()
        for blockHeight in checkpointHeight + 1...height {
            guard let bytes = try database.get(Family.meta, MetaKey.changedKeys(at: blockHeight)) else {
                throw StoreError("the keys block \(blockHeight) changed are missing (tree checkpoint at \(checkpointHeight), height \(height))")
            }
            var reader = CanonicalReader(bytes)
            do {
                let count = Int(try reader.readUInt32())
                for _ in 0..<count {
                    guard let key = StateKey(bytes: try reader.readBytes(max: StateKey.bytesMax, field: "state key")) else {
                        throw CanonicalDecodingError.invalidValue("not a state key")
                    }
                    keys.insert(key)
                }
                try reader.finish()
            } catch {
                throw StoreError("corrupt changed keys of block \(blockHeight): \(error)")
            }
        }
        var changes: [StateTree.Change] = []
        for key in keys { changes.append(StateTree.Change(key: key.bytes, value: try database.get(Family.state, key.bytes))) }
        let update = StateTree.update(changes) { treeNode(at: $0) }
        pendingTree.withLock { $0 = PendingTree(nodes: update.writes, checkpointHeight: checkpointHeight) }
        // The update read the checkpoint's versions of these nodes into the cache; once the next
        // checkpoint writes the pending nodes out and lets go of them, the cache must hold the
        // new versions (as it does for every committed block's nodes, `remember`).
        treeCache.commit(update.writes.lazy.map { (key: $0.key, value: $0.value) })
    }

    private func remember(state: [StateKey: [UInt8]?], tree: StateTree.Update) {
        stateCache.commit(state.lazy.map { (key: $0.key, value: $0.value) })
        treeCache.commit(tree.writes.lazy.map { (key: $0.key, value: $0.value) })
    }

    /// Checks that metadata, last block and state tree agree, and returns the status and the
    /// next height's proposer schedule.
    private func reconcile() throws(StoreError) -> (ChainStatus, ProposerSchedule)? {
        guard let genesis = try genesis() else { return nil }
        guard let heightBytes = try database.get(Family.meta, MetaKey.height), heightBytes.count == 8,
              let appHashBytes = try database.get(Family.meta, MetaKey.appHash), let appHash = Bytes32(appHashBytes)
        else { throw StoreError("store metadata is incomplete: height or app hash missing") }
        let height = heightBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let treeHeight = try database.get(Family.meta, MetaKey.treeHeight).map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } } ?? height
        guard treeHeight <= height else { throw StoreError("the state tree is at height \(treeHeight), above the committed \(height)") }
        pendingTree.withLock { $0 = PendingTree(checkpointHeight: treeHeight) }
        if treeHeight < height { try rebuildPendingTree(from: treeHeight, to: height) }
        let treeRoot = StateTree.rootHash { treeNode(at: $0) }
        guard treeRoot == Digest(appHash) else {
            throw StoreError("state tree root \(treeRoot.hex) differs from the committed app hash \(Digest(appHash).hex) at height \(height)")
        }
        guard try database.get(Family.blocks, (height + 1).bigEndianBytes) == nil else {
            throw StoreError("store holds a block above its committed height \(height)")
        }
        var status = ChainStatus(
            chainID: genesis.chainID, genesisHash: genesis.hash, height: height, appHash: treeRoot,
            lastBlockHash: genesis.hash, lastBlockTimeMs: genesis.genesisTime * 1000)
        if height > 0 {
            guard let last = try block(at: height) else { throw StoreError("committed block \(height) is missing") }
            guard last.header.appHash == treeRoot else {
                throw StoreError("block \(height) app hash differs from the state tree root")
            }
            status.lastBlockHash = last.hash
            status.lastBlockTimeMs = last.header.timeMs
        }
        guard let scheduleBytes = try database.get(Family.meta, MetaKey.proposerSchedule) else {
            throw StoreError("store metadata is incomplete: proposer schedule missing")
        }
        return (status, try decode(ProposerSchedule.self, scheduleBytes, what: "proposer schedule"))
    }

    private func decode<T: CanonicalCodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(StoreError) -> T {
        do { return try T(canonicalBytes: bytes, maxBytes: Block.maxBytes) } catch {
            throw StoreError("corrupt \(what): \(error)")
        }
    }

    /// State reads that fail mean the disk or store is broken; executing on a partial view
    /// would fork the node from the network, so the process stops with the reason.
    private func mustRead(_ read: () throws(StoreError) -> [UInt8]?) -> [UInt8]? {
        do { return try read() } catch { fatalError("store read failed: \(error)") }
    }
}

extension FixedWidthInteger {
    /// The integer's bytes, most significant first.
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
