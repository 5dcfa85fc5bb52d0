import Crypto
import Gossip
import Testing

/// The routing state machine alone: which peer gets what, when.
@Suite struct RouterTests {
    let peers = (0..<3).map { _ in SigningKey().publicKey }.sorted()
    var a: NodeID { peers[0] }
    var b: NodeID { peers[1] }
    var c: NodeID { peers[2] }

    func item(_ text: String, _ channel: Channel = .consensus) -> GossipItem { GossipItem(channel: channel, bytes: Array(text.utf8)) }

    func connected() -> Router {
        var router = Router()
        for peer in peers { _ = router.handle(.peerConnected(peer)) }
        return router
    }

    func sends(_ effects: [RouterEffect]) -> [NodeID: [GossipItem]] {
        var sent: [NodeID: [GossipItem]] = [:]
        for case let .send(peer, _, items) in effects { sent[peer, default: []] += items }
        return sent
    }

    @Test func publishedMessagesGoToEveryPeerOnce() {
        var router = connected()
        let vote = item("vote")
        #expect(sends(router.handle(.published([vote]))) == [a: [vote], b: [vote], c: [vote]])
        #expect(router.handle(.published([vote])).isEmpty)
        #expect(router.hasSeen(vote.id))
        #expect(router.counters.published == 3)
    }

    @Test func relayedMessagesAreAnnouncedOnTheNextTickNeverToTheirSource() {
        var router = connected()
        let vote = item("vote")
        #expect(router.handle(.accepted(from: a, [vote])).isEmpty)
        let effects = router.handle(.tick)
        #expect(effects == [.announce(b, .consensus, [vote.id]), .announce(c, .consensus, [vote.id])])
        // b asks for it: it gets the message; asking again finds it known and sends nothing new.
        #expect(sends(router.handle(.requested(from: b, .consensus, [vote.id]))) == [b: [vote]])
        #expect(router.handle(.tick).isEmpty)
    }

    @Test func aPeerThatAnnouncedAMessageIsNotSentIt() {
        var router = connected()
        let vote = item("vote")
        _ = router.handle(.announced(from: b, .consensus, [vote.id]))
        _ = router.handle(.accepted(from: a, [vote]))
        #expect(router.handle(.tick) == [.announce(c, .consensus, [vote.id])])
    }

    @Test func missingMessagesAreRequestedAfterATickThenFromTheNextAnnouncer() {
        var router = connected()
        let vote = item("vote")
        _ = router.handle(.announced(from: a, .consensus, [vote.id]))
        _ = router.handle(.announced(from: b, .consensus, [vote.id]))
        // The same tick: the originator's own copy may still be on its way.
        #expect(router.handle(.tick) == [.request(a, .consensus, [vote.id])])
        var waited: [RouterEffect] = []
        for _ in 0..<Router.Limits().requestTimeoutTicks { waited += router.handle(.tick) }
        #expect(waited == [.request(b, .consensus, [vote.id])])
        // Once it arrives nothing more is asked.
        _ = router.handle(.accepted(from: b, [vote]))
        for _ in 0..<10 { #expect(router.handle(.tick).allSatisfy { if case .request = $0 { false } else { true } }) }
    }

    /// A peer announcing more new ids in a tick than the limit gets only the limit wanted;
    /// another peer announcing the rest still gets them asked for.
    @Test func onePeersAnnouncementsWantAtMostTheLimitPerTick() {
        var limits = Router.Limits()
        limits.newWantsPerPeerPerTickMax = 3
        var router = Router(limits: limits)
        for peer in peers { _ = router.handle(.peerConnected(peer)) }
        _ = router.handle(.tick)
        let ids = (0..<5).map { item("vote \($0)").id }
        _ = router.handle(.announced(from: a, .consensus, ids))
        _ = router.handle(.announced(from: b, .consensus, Array(ids.suffix(2))))
        let asked = router.handle(.tick).flatMap { effect -> [(NodeID, Digest)] in
            if case let .request(peer, _, wanted) = effect { wanted.map { (peer, $0) } } else { [] }
        }
        #expect(asked.filter { $0.0 == a }.map(\.1).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
                == Array(ids.prefix(3)).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) })
        #expect(Set(asked.filter { $0.0 == b }.map(\.1)) == Set(ids.suffix(2)))
    }

    @Test func announcementsBeforeTheFirstTickAreNotRequestedAtOnce() {
        var router = connected()
        let vote = item("vote")
        _ = router.handle(.tick)
        _ = router.handle(.announced(from: a, .consensus, [vote.id]))
        _ = router.handle(.accepted(from: b, [vote]))  // the direct copy wins
        #expect(router.handle(.tick).allSatisfy { if case .request = $0 { false } else { true } })
    }

    @Test func aPeerThatConnectsGetsTheLiveMessages() {
        var router = Router()
        _ = router.handle(.peerConnected(a))
        let live = [item("proposal"), item("prevote")]
        _ = router.handle(.live(.consensus, live))
        #expect(sends(router.handle(.peerConnected(b))) == [b: live])
    }

    @Test func liveMessagesAPeerLacksAreSentAfterTheGracePeriod() {
        var router = connected()
        let live = [item("proposal"), item("prevote")]
        _ = router.handle(.live(.consensus, live))
        _ = router.handle(.announced(from: a, .consensus, live.map(\.id)))
        _ = router.handle(.duplicates(from: b, [live[0].id]))
        var effects: [RouterEffect] = []
        for _ in 0..<(Router.Limits().liveRefreshTicks * 2) { effects += router.handle(.tick) }
        #expect(sends(effects) == [b: [live[1]], c: live])
    }

    @Test func aDroppedSendIsOfferedAgain() {
        var router = connected()
        let live = [item("precommit")]
        _ = router.handle(.live(.consensus, live))
        var effects: [RouterEffect] = []
        for _ in 0..<(Router.Limits().liveRefreshTicks * 2) { effects += router.handle(.tick) }
        #expect(sends(effects)[a] == live)
        _ = router.handle(.sendDropped(to: a, [live[0].id]))
        effects = []
        for _ in 0..<Router.Limits().liveRefreshTicks { effects += router.handle(.tick) }
        #expect(sends(effects) == [a: live])
    }

    @Test func reconnectingForgetsWhatThePeerHeld() {
        var router = connected()
        let vote = item("vote")
        _ = router.handle(.live(.consensus, [vote]))
        _ = router.handle(.published([vote]))
        _ = router.handle(.peerDisconnected(a))
        #expect(sends(router.handle(.peerConnected(a))) == [a: [vote]])
    }

    @Test func duplicatesAndDiscardedMessagesAreNotRelayed() {
        var router = connected()
        let vote = item("vote")
        let refused = item("refused", .transactions)
        _ = router.handle(.accepted(from: a, [vote]))
        _ = router.handle(.duplicates(from: b, [vote.id]))
        _ = router.handle(.discarded(from: c, [refused.id]))
        #expect(router.hasSeen(refused.id))
        #expect(router.counters.duplicates == 1)
        #expect(router.handle(.tick) == [.announce(c, .consensus, [vote.id])])
    }

    @Test func largeBatchesAreSplitByBytes() {
        var limits = Router.Limits()
        limits.batchBytesMax = 100
        var router = Router(limits: limits)
        _ = router.handle(.peerConnected(a))
        let items = (0..<10).map { GossipItem(channel: .transactions, bytes: Array(repeating: UInt8($0), count: 40)) }
        let effects = router.handle(.published(items))
        #expect(effects.count == 5)
        #expect(sends(effects)[a] == items)
    }

    @Test func theStoreForgetsTheOldestBeyondItsLimits() {
        var limits = Router.Limits()
        limits.storedItemsMax = 3
        var router = Router(limits: limits)
        _ = router.handle(.peerConnected(a))
        let items = (0..<5).map { item("m\($0)") }
        _ = router.handle(.published(items))
        _ = router.handle(.peerConnected(b))
        let answered = sends(router.handle(.requested(from: b, .consensus, items.map(\.id))))
        #expect(answered == [b: Array(items.suffix(3))])
    }
}
