import Crypto

/// What each peer should receive, as a deterministic state machine: events in, effects out, no
/// sockets, clocks or threads. The node's transport and the simulator's links both carry out
/// its effects, so the relaying the simulator checks is the relaying nodes run.
///
/// Today's topology is a full mesh: a message originated here is sent at once to every peer
/// that is not known to have it (`published`). A message that arrived from a peer is relayed
/// lazily: its id is announced to the other peers on the next tick, and a peer that lacks it
/// asks for it. With every link up, each node receives one copy plus a few 32-byte
/// announcements; when a link is down, the announcements carry the message around it.
/// (A gossipsub-style mesh for large networks would send `accepted` items eagerly to a few
/// mesh peers and keep announcing to the rest; the events and effects stay the same.)
///
/// The router remembers per peer which ids it is known to hold — sent to it, received from it,
/// announced by it — and never sends a peer a message it holds, nor back to where it came from.
/// For consensus, the driver hands the router the messages of the current height (`live`) from
/// time to time; a peer that connects gets all of them, and any peer still lacking one after
/// the announcements had time to settle gets it too — the vote bit arrays of CometBFT, by id.
///
/// Peers report their epoch (a node's last committed height) and an item with an epoch (a
/// consensus message's height) is sent or announced to a peer only while that peer can use it:
/// a node keeps messages of the two heights after its last committed one. A peer behind gets
/// the live messages once it reports catching up — so nothing sent reaches a peer too early to
/// be kept, and what a peer is known to hold is what its engine holds.
public struct Router: Sendable {
    public struct Limits: Sendable {
        /// Messages kept for peers that ask for them, by count and bytes; oldest go first.
        public var storedItemsMax = 100_000
        public var storedBytesMax = 256 << 20
        /// Ids remembered as handled, so a message is checked only once.
        public var seenMax = 500_000
        /// Ids remembered per peer as held by it.
        public var knownPerPeerMax = 100_000
        /// Bytes of items batched into one `send` effect (a larger item goes alone).
        public var batchBytesMax = 1 << 20
        /// Ticks between checks that every peer holds every live message.
        public var liveRefreshTicks: UInt64 = 5
        /// How old (in ticks) a live message must be before a refresh sends it to a peer not
        /// known to hold it: time for the announcements to say who holds it already.
        public var liveGraceTicks: UInt64 = 3
        /// Ticks to wait for a requested message before asking another announcer.
        public var requestTimeoutTicks: UInt64 = 5
        /// How many epochs past its reported one a peer can use items of.
        public var epochsAhead: UInt64 = 2
        /// New ids one peer's announcements may make wanted per tick; beyond, its announced ids
        /// are not asked for (another announcer's may be), so a peer announcing ids it never
        /// sends cannot grow what this node tracks without bound.
        public var newWantsPerPeerPerTickMax = 4_096

        public init() {}
    }

    /// Counters for metrics, cumulative.
    public struct Counters: Sendable, Equatable {
        /// Items sent that originated here.
        public var published: UInt64 = 0
        /// Items sent that originated elsewhere (on request or by a live refresh).
        public var relayed: UInt64 = 0
        public var announced: UInt64 = 0
        public var requested: UInt64 = 0
        /// Copies of messages already handled that arrived again.
        public var duplicates: UInt64 = 0

        public init() {}
    }

    private struct Peer: Sendable {
        var known: BoundedSet<Digest>
        var announceQueue: [Channel: [Digest]] = [:]
        /// The last epoch the peer reported; nil until it does.
        var epoch: UInt64?
        /// Ids its announcements made wanted this tick.
        var newWantsThisTick = 0
    }

    private struct Want: Sendable {
        let channel: Channel
        let firstAnnouncedTick: UInt64
        var announcers: [NodeID]
        var requested: (peer: NodeID, tick: UInt64)?
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    public private(set) var tick: UInt64 = 0
    private var peers: [NodeID: Peer] = [:]
    /// Connected peers in ascending id order: effects come out in a fixed order.
    private var peerOrder: [NodeID] = []
    private var seen: BoundedSet<Digest>
    private var stored: [Digest: GossipItem] = [:]
    private var storedOrder: [Digest] = []
    private var storedOldest = 0
    private var storedBytes = 0
    private var live: [Channel: [GossipItem]] = [:]
    private var liveSince: [Digest: UInt64] = [:]
    private var wants: [Digest: Want] = [:]
    private var effects: [RouterEffect] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
        seen = BoundedSet(capacity: limits.seenMax)
    }

    /// Whether a message with this id was handled already (then it is not checked again).
    public func hasSeen(_ id: Digest) -> Bool { seen.contains(id) || liveSince[id] != nil }

    public var connectedPeers: [NodeID] { peerOrder }

    /// Feeds one event; returns the effects to carry out, in order.
    public mutating func handle(_ event: RouterEvent) -> [RouterEffect] {
        effects = []
        switch event {
        case let .peerConnected(peer):
            connect(peer)
        case let .peerDisconnected(peer):
            disconnect(peer)
        case let .published(items):
            for item in items { remember(item) }
            for peer in peerOrder { send(items, to: peer, counting: \.published) }
        case let .accepted(source, items):
            for item in items {
                remember(item)
                wants[item.id] = nil
                peers[source]?.known.insert(item.id)
            }
            for peer in peerOrder where peer != source {
                for item in items where peers[peer]!.known.contains(item.id) == false {
                    peers[peer]!.announceQueue[item.channel, default: []].append(item.id)
                }
            }
        case let .discarded(source, ids):
            for id in ids {
                seen.insert(id)
                wants[id] = nil
                peers[source]?.known.insert(id)
            }
        case let .duplicates(source, ids):
            counters.duplicates += UInt64(ids.count)
            for id in ids { peers[source]?.known.insert(id) }
        case let .announced(source, channel, ids):
            guard peers[source] != nil else { break }
            for id in ids {
                peers[source]!.known.insert(id)
                guard !hasSeen(id) else { continue }
                if wants[id] == nil {
                    guard peers[source]!.newWantsThisTick < limits.newWantsPerPeerPerTickMax else { continue }
                    peers[source]!.newWantsThisTick += 1
                    wants[id] = Want(channel: channel, firstAnnouncedTick: tick, announcers: [source])
                } else if !wants[id]!.announcers.contains(source) {
                    wants[id]!.announcers.append(source)
                }
            }
        case let .requested(source, _, ids):
            // Only what the peer is not known to hold: asking again for what it was sent does
            // not make this node send it twice (no amplification).
            send(ids.compactMap { stored[$0] ?? liveItem($0) }, to: source, counting: \.relayed)
        case let .live(channel, items):
            for item in items where liveSince[item.id] == nil {
                liveSince[item.id] = tick
                seen.insert(item.id)
            }
            let kept = Set(items.map(\.id))
            for old in live[channel] ?? [] where !kept.contains(old.id) { liveSince[old.id] = nil }
            live[channel] = items
        case let .sendDropped(peer, ids):
            for id in ids { peers[peer]?.known.remove(id) }
        case let .peerEpoch(peer, epoch):
            guard peers[peer] != nil else { break }
            peers[peer]!.epoch = epoch
            // Live messages it could not use before go now: none was announced to it, so no copy races them.
            for channel in Channel.allCases { send(live[channel] ?? [], to: peer, counting: \.relayed) }
        case .tick:
            tick += 1
            for peer in peers.keys { peers[peer]!.newWantsThisTick = 0 }
            flushAnnouncements()
            requestWanted()
            if tick % limits.liveRefreshTicks == 0 { refreshLive() }
        }
        return effects
    }

    // MARK: Peers

    private mutating func connect(_ peer: NodeID) {
        if peers[peer] != nil { disconnect(peer) }
        peers[peer] = Peer(known: BoundedSet(capacity: limits.knownPerPeerMax))
        peerOrder.insert(peer, at: peerOrder.firstIndex { $0 > peer } ?? peerOrder.count)
        for channel in Channel.allCases { send(live[channel] ?? [], to: peer, counting: \.relayed) }
    }

    private mutating func disconnect(_ peer: NodeID) {
        guard peers.removeValue(forKey: peer) != nil else { return }
        peerOrder.removeAll { $0 == peer }
        for id in wants.keys.sorted() {
            wants[id]!.announcers.removeAll { $0 == peer }
            if wants[id]!.requested?.peer == peer { wants[id]!.requested = nil }
            if wants[id]!.announcers.isEmpty { wants[id] = nil }
        }
    }

    // MARK: Sending

    /// Whether `peer` can use `item` now (see `GossipItem.epoch`).
    private func canUse(_ item: GossipItem, _ peer: NodeID) -> Bool {
        guard item.epoch > 0 else { return true }
        guard let epoch = peers[peer]?.epoch else { return false }
        return item.epoch > epoch && item.epoch <= epoch + limits.epochsAhead
    }

    /// Sends `peer` the items it can use and is not known to hold, batched, and marks them held.
    private mutating func send(_ items: [GossipItem], to peer: NodeID, counting counter: WritableKeyPath<Counters, UInt64>) {
        guard peers[peer] != nil else { return }
        var batch: [GossipItem] = []
        var batchBytes = 0
        for item in items where canUse(item, peer) && peers[peer]!.known.insert(item.id) {
            if !batch.isEmpty && (batch[0].channel != item.channel || batchBytes + item.bytes.count > limits.batchBytesMax) {
                effects.append(.send(peer, batch[0].channel, batch))
                batch = []
                batchBytes = 0
            }
            batch.append(item)
            batchBytes += item.bytes.count
            counters[keyPath: counter] += 1
        }
        if !batch.isEmpty { effects.append(.send(peer, batch[0].channel, batch)) }
    }

    private mutating func flushAnnouncements() {
        for peer in peerOrder {
            let queue = peers[peer]!.announceQueue
            guard !queue.isEmpty else { continue }
            peers[peer]!.announceQueue = [:]
            for channel in Channel.allCases {
                let ids = (queue[channel] ?? []).filter { id in
                    !peers[peer]!.known.contains(id) && (stored[id] ?? liveItem(id)).map { canUse($0, peer) } == true
                }
                for chunk in ids.chunked(WireMessage.entriesMax) {
                    effects.append(.announce(peer, channel, chunk))
                    counters.announced += UInt64(chunk.count)
                }
            }
        }
    }

    /// Asks an announcer for each message still missing a tick after it was announced (the
    /// copy sent directly by its originator usually arrives first); asks the next announcer
    /// when one does not answer in time.
    private mutating func requestWanted() {
        var requests: [NodeID: [Channel: [Digest]]] = [:]
        for id in wants.keys.sorted() {
            var want = wants[id]!
            if let requested = want.requested {
                guard tick - requested.tick >= limits.requestTimeoutTicks else { continue }
                want.announcers.removeAll { $0 == requested.peer }
                want.requested = nil
                if want.announcers.isEmpty {
                    wants[id] = nil
                    continue
                }
            }
            guard tick > want.firstAnnouncedTick, let announcer = want.announcers.first else {
                wants[id] = want
                continue
            }
            want.requested = (announcer, tick)
            wants[id] = want
            requests[announcer, default: [:]][want.channel, default: []].append(id)
        }
        for peer in requests.keys.sorted() {
            for channel in Channel.allCases {
                guard let ids = requests[peer]![channel] else { continue }
                for chunk in ids.chunked(WireMessage.entriesMax) { effects.append(.request(peer, channel, chunk)) }
                counters.requested += UInt64(ids.count)
            }
        }
    }

    private mutating func refreshLive() {
        for peer in peerOrder {
            for channel in Channel.allCases {
                let due = (live[channel] ?? []).filter { tick - (liveSince[$0.id] ?? tick) >= limits.liveGraceTicks }
                send(due, to: peer, counting: \.relayed)
            }
        }
    }

    // MARK: Storage

    private func liveItem(_ id: Digest) -> GossipItem? {
        guard liveSince[id] != nil else { return nil }
        for items in live.values { if let item = items.first(where: { $0.id == id }) { return item } }
        return nil
    }

    /// Marks `item` handled and keeps it for peers that will ask, forgetting the oldest kept
    /// items beyond the limits.
    private mutating func remember(_ item: GossipItem) {
        seen.insert(item.id)
        guard stored[item.id] == nil else { return }
        stored[item.id] = item
        storedBytes += item.bytes.count
        storedOrder.append(item.id)
        while storedOrder.count - storedOldest > limits.storedItemsMax || storedBytes > limits.storedBytesMax {
            let oldest = storedOrder[storedOldest]
            storedOldest += 1
            if let evicted = stored.removeValue(forKey: oldest) { storedBytes -= evicted.bytes.count }
        }
        if storedOldest > 4_096 && storedOldest * 2 > storedOrder.count {
            storedOrder.removeFirst(storedOldest)
            storedOldest = 0
        }
        assert(stored.count <= limits.storedItemsMax && storedBytes <= limits.storedBytesMax, "router store over its limits")
    }
}

/// An input to the router.
public enum RouterEvent: Sendable {
    case peerConnected(NodeID)
    case peerDisconnected(NodeID)
    /// Messages originated by this node (its own votes, transactions its clients sent): sent
    /// at once to every peer.
    case published([GossipItem])
    /// Messages that arrived from `from`, were checked (signature, format) and were new: relayed
    /// to the other peers by announcement.
    case accepted(from: NodeID, [GossipItem])
    /// Messages from `from` that were checked and are not to be relayed (valid bytes this node
    /// cannot use, such as a transaction its state rejects); they are not checked again.
    case discarded(from: NodeID, [Digest])
    /// Messages from `from` that were handled already.
    case duplicates(from: NodeID, [Digest])
    /// `from` holds these messages.
    case announced(from: NodeID, Channel, [Digest])
    /// `from` asks for these messages.
    case requested(from: NodeID, Channel, [Digest])
    /// The messages of `channel` every peer must hold now; replaces the previous set.
    case live(Channel, [GossipItem])
    /// The transport had no room for these messages to `to`: it may be sent them again later.
    case sendDropped(to: NodeID, [Digest])
    /// `peer` reports its epoch (its last committed height): items of the next epochs are of use to it.
    case peerEpoch(NodeID, UInt64)
    /// Time passes (the node ticks every 100 ms): announcements go out, missing messages are
    /// requested, live messages are checked.
    case tick
}

/// An output of the router, for the transport to carry out.
public enum RouterEffect: Sendable, Equatable {
    case send(NodeID, Channel, [GossipItem])
    case announce(NodeID, Channel, [Digest])
    case request(NodeID, Channel, [Digest])
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
