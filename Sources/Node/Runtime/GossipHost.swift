import Consensus
import Gossip
import Ledger

/// What gossip needs from the node it serves. Called on the gossip queue.
protocol GossipHost: AnyObject, Sendable {
    var chainID: String { get }
    var committedHeight: UInt64 { get }
    /// Whether an authentic consensus message is worth acting on and relaying
    /// (`ConsensusGossip.isRelevant`).
    func isRelevant(_ message: ConsensusMessage) -> Bool
    /// An authentic, relevant, new consensus message from a peer, `bytes` long encoded.
    func consensusMessageArrived(_ message: ConsensusMessage, bytes: Int)
    /// Offers transactions from a peer to the mempool; says what became of each.
    func transactionsArrived(_ transactions: [SignedTransaction]) -> [PeerTransactionOutcome]
    func committedBlocks(from height: UInt64, countMax: Int, bytesMax: Int) -> [Block]
    /// Committed blocks from peers for a node that follows consensus and lags a little: the
    /// engine checks each when it reaches its height.
    func syncedBlocksArrived(_ blocks: [Block])
    /// Committed blocks from peers for a node in block sync, to verify and commit; `done` is
    /// called once with what became of them.
    func applySyncedBlocks(_ blocks: [(height: UInt64, block: Block, from: NodeID)], done: @escaping @Sendable (BlockSyncer.Outcome) -> Void)
    /// Block sync began (the node fell far behind): stop following consensus.
    func blockSyncStarted()
    /// Block sync ended (the node is within one height of its peers, or has no peer to sync
    /// from): follow consensus.
    func blockSyncFinished()
    /// The consensus messages of the current height, encoded, handed to `reply`.
    func liveConsensusMessages(_ reply: @escaping @Sendable ([GossipItem]) -> Void)
}

/// What became of a transaction that arrived from a peer.
enum PeerTransactionOutcome: Sendable {
    /// In the mempool now: relay it.
    case admitted
    /// Already pending here.
    case known
    /// Valid bytes this node's state refuses (a used nonce, say): not relayed, not the peer's fault.
    case refused
    /// Its signature does not verify: the peer sent an invalid message.
    case badSignature
}
