import Crypto
import Gossip
import Testing

/// The block sync scheduler alone: which heights are asked of which peer, and what happens
/// when answers come, stay away or are bad. Blocks are their heights here.
@Suite struct BlockSyncPoolTests {
    let peers = (0..<3).map { _ in SigningKey().publicKey }.sorted()
    var a: NodeID { peers[0] }
    var b: NodeID { peers[1] }
    var c: NodeID { peers[2] }

    func limits(window: UInt64 = 256, request: UInt32 = 32, perPeer: Int = 3, timeoutTicks: UInt64 = 30) -> BlockSyncPool<UInt64>.Limits {
        var limits = BlockSyncPool<UInt64>.Limits()
        limits.windowBlocksMax = window
        limits.requestBlocksMax = request
        limits.requestsPerPeerMax = perPeer
        limits.requestTimeoutTicks = timeoutTicks
        return limits
    }

    func requests(_ effects: [BlockSyncEffect]) -> [(peer: NodeID, from: UInt64, count: UInt32)] {
        effects.compactMap { if case let .request(peer, from, count) = $0 { (peer, from, count) } else { nil } }
    }

    /// Answers every request in `effects` fully, as honest peers do.
    func answer(_ pool: inout BlockSyncPool<UInt64>, _ effects: [BlockSyncEffect]) -> [BlockSyncEffect] {
        var next: [BlockSyncEffect] = []
        for request in requests(effects) {
            let blocks = Array(request.from..<(request.from + UInt64(request.count)))
            next += pool.handle(.received(from: request.peer, fromHeight: request.from, blocks: blocks, peerHeight: pool.peerHeights[request.peer] ?? 0))
        }
        return next
    }

    @Test func theWindowIsSpreadOverPeersThatHaveTheHeights() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 10, limits: limits(window: 100, request: 10, perPeer: 2))
        #expect(pool.handle(.peerHeight(a, 1_000)).count == 2)
        let effects = pool.handle(.peerHeight(b, 1_000)) + pool.handle(.peerHeight(c, 25))
        let asked = requests(effects)
        // a took 11..<21 and 21..<31; b then c share the rest, c only up to its height 25 (none left there).
        #expect(asked.map(\.peer) == [b, b])
        #expect(asked.map(\.from) == [31, 41])
        #expect(pool.requestsOutstanding == 4)
        #expect(!pool.isCaughtUp)
        #expect(pool.targetHeight == 1_000)
    }

    @Test func blocksAreHandedOutInOrderAndTheWindowMovesWhenApplied() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 8, request: 4))
        var effects = pool.handle(.peerHeight(a, 20))
        #expect(requests(effects).map(\.from) == [1, 5])
        let second = requests(effects)[1]
        // The second answer first: nothing is ready until height 1 is there.
        effects = pool.handle(.received(from: a, fromHeight: second.from, blocks: [5, 6, 7, 8], peerHeight: 20))
        #expect(pool.takeReady(countMax: 10).isEmpty)
        effects = pool.handle(.received(from: a, fromHeight: 1, blocks: [1, 2], peerHeight: 20))
        // A short answer: 3 and 4 are asked again.
        #expect(requests(effects).map(\.from) == [3])
        #expect(pool.takeReady(countMax: 10).map(\.block) == [1, 2])
        #expect(pool.takeReady(countMax: 10).isEmpty)
        #expect(requests(pool.applied(through: 2)).map(\.from) == [9])
        #expect(pool.handedOutHeight == 2)
    }

    @Test func aSyncedNodeCatchesUpWithinOneHeight() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 64, request: 16))
        #expect(!pool.isCaughtUp)  // heard from no one
        var effects = pool.handle(.peerHeight(a, 50)) + pool.handle(.peerHeight(b, 49))
        while !effects.isEmpty {
            effects = answer(&pool, effects)
            let ready = pool.takeReady(countMax: 1_000)
            if let last = ready.last { effects += pool.applied(through: last.height) }
        }
        #expect(pool.appliedHeight == 50)
        #expect(pool.isCaughtUp)
        _ = pool.handle(.peerHeight(a, 51))
        #expect(pool.isCaughtUp)
        _ = pool.handle(.peerHeight(b, 52))
        #expect(!pool.isCaughtUp)
    }

    @Test func anUnansweredRequestGoesToAnotherPeerAndALateAnswerIsIgnored() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 4, request: 4, perPeer: 1, timeoutTicks: 3))
        let first = requests(pool.handle(.peerHeight(a, 10)))
        #expect(first.map(\.peer) == [a])
        _ = pool.handle(.peerHeight(b, 10))
        #expect(pool.handle(.tick).isEmpty)
        #expect(pool.handle(.tick).isEmpty)
        let retried = requests(pool.handle(.tick))
        #expect(retried.map(\.peer) == [b])
        #expect(retried.map(\.from) == [1])
        _ = pool.handle(.received(from: a, fromHeight: 1, blocks: [1, 2, 3, 4], peerHeight: 10))
        #expect(pool.takeReady(countMax: 10).isEmpty)
        _ = pool.handle(.received(from: b, fromHeight: 1, blocks: [1, 2, 3, 4], peerHeight: 10))
        #expect(pool.takeReady(countMax: 10).map(\.from) == [b, b, b, b])
    }

    /// A peer that claims heights it never sends, through several timeouts, is reported and
    /// taken to have only the heights below the one asked, so the node does not keep syncing
    /// towards its claim; one that sends blocks between its timeouts is only passed over.
    @Test func aPeerThatLeavesRequestsUnansweredIsNoLongerBelieved() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 5, limits: limits(window: 8, request: 4, perPeer: 2, timeoutTicks: 2))
        var effects = pool.handle(.peerHeight(a, 1_000_000))
        for round in 1...3 {
            #expect(requests(effects).map(\.from) == [6, 10], "round \(round)")
            #expect(!pool.isCaughtUp)
            #expect(pool.handle(.tick).isEmpty)
            effects = pool.handle(.tick)
        }
        // The third timeout in a row: reported once, its claim dropped to the heights below.
        #expect(effects == [.unanswered(a)])
        #expect(pool.peerHeights[a] == 5 && pool.targetHeight == 5 && pool.isCaughtUp && pool.requestsOutstanding == 0)

        // A slow peer that answers now and then keeps its claim.
        var slow = BlockSyncPool<UInt64>(appliedHeight: 5, limits: limits(window: 8, request: 4, perPeer: 2, timeoutTicks: 2))
        effects = slow.handle(.peerHeight(b, 1_000))
        for _ in 1...5 {
            _ = slow.handle(.tick)
            effects = slow.handle(.tick)
            #expect(!effects.contains(.unanswered(b)))
            if let first = requests(effects).first {
                effects = slow.handle(.received(from: b, fromHeight: first.from, blocks: [first.from], peerHeight: 1_000))
            }
        }
        #expect(slow.peerHeights[b] == 1_000)
    }

    @Test func aRejectedBlockReportsItsSenderAndIsAskedOfAnother() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 4, request: 2, perPeer: 1))
        _ = pool.handle(.peerHeight(a, 10))
        let effects = pool.handle(.peerHeight(b, 10))
        _ = answer(&pool, effects + [.request(a, fromHeight: 1, count: 2)])
        let ready = pool.takeReady(countMax: 10)
        #expect(ready.map(\.height) == [1, 2, 3, 4])
        let bad = ready[0]
        let after = pool.rejected(height: 1, from: bad.from, reason: "bad certificate")
        #expect(after.first == .misbehaved(bad.from, reason: "bad certificate"))
        let honest = bad.from == a ? b : a
        #expect(requests(after).allSatisfy { $0.peer == honest })
        #expect(requests(after).map(\.from) == [1])
        #expect(pool.handedOutHeight == 0)
        #expect(pool.peerHeights[bad.from] == nil)
    }

    @Test func anEmptyAnswerLowersWhatThePeerIsThoughtToHave() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 8, request: 8))
        _ = pool.handle(.peerHeight(a, 8))
        let effects = pool.handle(.received(from: a, fromHeight: 1, blocks: [], peerHeight: 8))
        #expect(effects.isEmpty)
        #expect(pool.peerHeights[a] == 0)
        #expect(pool.isCaughtUp)
    }

    @Test func aRemovedPeersRequestsGoElsewhere() {
        var pool = BlockSyncPool<UInt64>(appliedHeight: 0, limits: limits(window: 4, request: 4, perPeer: 1))
        #expect(requests(pool.handle(.peerHeight(a, 10))).map(\.peer) == [a])
        #expect(pool.handle(.peerHeight(b, 10)).isEmpty)
        #expect(requests(pool.handle(.peerRemoved(a))).map(\.peer) == [b])
    }
}
