import Gossip
import Testing

/// The sync-mode rules on their own: when a node enters and leaves block sync, and when its
/// pool fetches — including the quiet network, where only the one-behind grace fetches.
@Suite struct SyncModeTests {
    /// An observation of a node at `committed` whose highest peer is at `peers` (none when nil).
    static func at(
        _ tick: UInt64, committed: UInt64, peers: UInt64?, batches: Int = 0, engineWants: Bool = false, fetching: Bool
    ) -> SyncMode.Observation {
        SyncMode.Observation(
            tick: tick, committedHeight: committed, peersHeight: peers ?? 0, caughtUp: peers.map { $0 <= committed || $0 - committed <= 1 } ?? false,
            noPeerHeights: peers == nil, batchesApplying: batches, engineWantsBlocks: engineWants, fetching: fetching)
    }

    @Test func syncingNodeFinishesWhenCaughtUpAndNoBatchIsApplying() {
        var mode = SyncMode(syncing: true)
        #expect(mode.update(Self.at(1, committed: 0, peers: 100, fetching: false)) == [.fetch(true)])
        #expect(mode.update(Self.at(2, committed: 50, peers: 100, fetching: true)) == [])
        // Within one height, but a batch is still being applied: stay.
        #expect(mode.update(Self.at(3, committed: 99, peers: 100, batches: 1, fetching: true)) == [])
        #expect(mode.isSyncing)
        // Finished; one behind is a decision in flight, so the pool stops at first.
        #expect(mode.update(Self.at(4, committed: 99, peers: 100, fetching: true)) == [.syncFinished, .fetch(false)])
        #expect(!mode.isSyncing)
    }

    @Test func syncingNodeWithNoPeerHeightsFollowsConsensusAloneAfterTheWait() {
        var mode = SyncMode(syncing: true)
        let wait = mode.limits.aloneAfterTicks
        #expect(mode.update(Self.at(wait - 1, committed: 0, peers: nil, fetching: true)) == [])
        #expect(mode.update(Self.at(wait, committed: 0, peers: nil, fetching: true)) == [.syncFinished, .fetch(false)])
    }

    @Test func followingNodeSyncsAgainOnlyBeyondTheLag() {
        var mode = SyncMode(syncing: false)
        let lag = mode.limits.lagBlocksMax
        // Within the lag the engine takes fetched blocks: fetch, but keep following consensus.
        #expect(mode.update(Self.at(1, committed: 10, peers: 10 + lag, fetching: false)) == [.fetch(true)])
        #expect(mode.update(Self.at(2, committed: 10, peers: 11 + lag, fetching: true)) == [.syncStarted])
        #expect(mode.isSyncing)
        // Heights near the top of the range do not overflow.
        var high = SyncMode(syncing: false)
        #expect(high.update(Self.at(1, committed: .max - 1, peers: .max, fetching: false)) == [])
        #expect(high.update(Self.at(1, committed: .max, peers: 3, fetching: false)) == [])
    }

    /// One height behind a quiet network: no later message will make the engine ask, so after
    /// the grace the pool fetches the block; catching up stops it, and the grace starts anew.
    @Test func oneBehindOnAQuietNetworkFetchesAfterTheGrace() {
        var mode = SyncMode(syncing: false)
        let grace = mode.limits.oneBehindGraceTicks
        #expect(mode.update(Self.at(100, committed: 5, peers: 6, fetching: false)) == [])
        #expect(mode.update(Self.at(100 + grace - 1, committed: 5, peers: 6, fetching: false)) == [])
        #expect(mode.update(Self.at(100 + grace, committed: 5, peers: 6, fetching: false)) == [.fetch(true)])
        #expect(mode.update(Self.at(100 + grace + 1, committed: 6, peers: 6, fetching: true)) == [.fetch(false)])
        #expect(mode.update(Self.at(200, committed: 6, peers: 7, fetching: false)) == [])
        #expect(mode.update(Self.at(200 + grace, committed: 6, peers: 7, fetching: false)) == [.fetch(true)])
    }

    @Test func engineAskingForBlocksMakesThePoolFetch() {
        var mode = SyncMode(syncing: false)
        #expect(mode.update(Self.at(1, committed: 5, peers: 5, engineWants: true, fetching: false)) == [.fetch(true)])
        #expect(mode.update(Self.at(2, committed: 6, peers: 6, fetching: true)) == [.fetch(false)])
    }
}
