/// Whether a node catches up by block sync or follows consensus, and whether its
/// `BlockSyncPool` fetches blocks: the switching rules as a pure state machine. The node's
/// gossip service observes its heights after every event that can change them (a tick, a
/// commit, a peer's status, a finished sync batch) and carries out the effects.
///
/// - **In block sync** the node finishes when no synced batch is still being applied and it is
///   within one height of its highest peer — or, having heard from no peer at all, once
///   `Limits.aloneAfterTicks` ticks have passed since it started (it is alone).
/// - **Following consensus** it goes back to block sync when its highest peer is more than
///   `Limits.lagBlocksMax` heights ahead; within that the engine takes fetched blocks itself.
/// - **The pool fetches** while syncing, while the engine asks for blocks, when the node is two
///   or more heights behind, and when it has stayed one height behind for
///   `Limits.oneBehindGraceTicks`. One behind is normally a decision in flight; it lasts when
///   the node missed that height's messages (it was syncing or restarting when they were sent)
///   and the network has gone quiet: gossip re-sends only the current height's messages, and
///   no message of a later height will make the engine ask.
public struct SyncMode: Sendable, Equatable {
    /// The rules' thresholds, in ticks of the gossip service (100 ms) and heights.
    public struct Limits: Sendable, Equatable {
        /// Ticks a syncing node waits for a first peer's height before it follows consensus alone.
        public var aloneAfterTicks: UInt64 = 30
        /// Heights behind the highest peer beyond which a node following consensus syncs again.
        public var lagBlocksMax: UInt64 = 8
        /// Ticks one height behind a peer before the pool fetches that block.
        public var oneBehindGraceTicks: UInt64 = 10

        public init() {}
    }

    /// What the node knows when it updates the mode.
    public struct Observation: Sendable, Equatable {
        /// The gossip service's tick counter (ticks since it started).
        public var tick: UInt64
        /// The node's last committed height.
        public var committedHeight: UInt64
        /// The highest height any peer claims (0 before any has).
        public var peersHeight: UInt64
        /// Whether the pool has a height from some peer and has applied up to one below the highest.
        public var caughtUp: Bool
        /// Whether no peer has told its height yet.
        public var noPeerHeights: Bool
        /// Synced batches handed out and not yet applied.
        public var batchesApplying: Int
        /// Whether the consensus engine asked for blocks since the last commit.
        public var engineWantsBlocks: Bool
        /// Whether the pool fetches now.
        public var fetching: Bool

        public init(tick: UInt64, committedHeight: UInt64, peersHeight: UInt64, caughtUp: Bool, noPeerHeights: Bool,
                    batchesApplying: Int, engineWantsBlocks: Bool, fetching: Bool) {
            self.tick = tick
            self.committedHeight = committedHeight
            self.peersHeight = peersHeight
            self.caughtUp = caughtUp
            self.noPeerHeights = noPeerHeights
            self.batchesApplying = batchesApplying
            self.engineWantsBlocks = engineWantsBlocks
            self.fetching = fetching
        }
    }

    /// What the node must do, in order.
    public enum Effect: Sendable, Equatable {
        /// Block sync began: drop blocks handed to the engine, start applying synced batches.
        case syncStarted
        /// Block sync ended: tell peers the height, start the consensus engine.
        case syncFinished
        /// Make the pool fetch (true) or stop (false).
        case fetch(Bool)
    }

    public let limits: Limits
    /// Whether the node is in block sync.
    public private(set) var isSyncing: Bool
    /// The tick since which the node, following consensus, has been behind its highest peer.
    private var behindSinceTick: UInt64?

    /// A node starting in block sync (it has peers to wait for) or following consensus.
    public init(syncing: Bool, limits: Limits = Limits()) {
        self.limits = limits
        isSyncing = syncing
    }

    /// Applies the rules to `now` and returns what changed.
    public mutating func update(_ now: Observation) -> [Effect] {
        assert(now.batchesApplying >= 0, "a negative count of batches")
        var effects: [Effect] = []
        if isSyncing {
            let alone = now.noPeerHeights && now.tick >= limits.aloneAfterTicks
            if now.batchesApplying == 0, now.caughtUp || alone {
                isSyncing = false
                effects.append(.syncFinished)
            }
        } else if now.peersHeight > now.committedHeight, now.peersHeight - now.committedHeight > limits.lagBlocksMax {
            isSyncing = true
            effects.append(.syncStarted)
        }
        if isSyncing || now.peersHeight <= now.committedHeight {
            behindSinceTick = nil
        } else if behindSinceTick == nil {
            behindSinceTick = now.tick
        }
        let stuckOneBehind = behindSinceTick.map { now.tick - $0 >= limits.oneBehindGraceTicks } ?? false
        let twoBehind = now.peersHeight > now.committedHeight && now.peersHeight - now.committedHeight >= 2
        let wanted = isSyncing || now.engineWantsBlocks || stuckOneBehind || twoBehind
        if wanted != now.fetching { effects.append(.fetch(wanted)) }
        return effects
    }
}
