import Crypto
import Gossip
import Ledger

/// What travels on a simulated link: what the router asked to send, and height reports.
enum LinkMessage {
    case items(Channel, [GossipItem])
    case announce(Channel, [Digest])
    case request(Channel, [Digest])
    /// The sender's last committed height, sent when a link comes up and after each commit.
    case status(UInt64)
}

/// A simulated connection between two node slots, like a TCP connection: up or down, in order
/// in each direction, and a new `epoch` each time it is re-established (what was in flight on
/// an earlier connection is lost).
struct SimulatedLink {
    var isUp = false
    var isConnecting = false
    var epoch: UInt64 = 0
    /// The latest arrival time scheduled in each direction (low → high, high → low), so
    /// messages on one link arrive in the order they were sent.
    var lastArrival: (UInt64, UInt64) = (0, 0)
}

/// The simulated network: every node runs the gossip `Router` the real node runs, over links
/// that break (losing what is in flight, like a dropped TCP connection) and reconnect; the
/// routers re-send what a reconnected peer lacks.
extension Simulation {
    // MARK: Links

    /// Whether slots `a` and `b` can hold a connection now: both running, on the same side of
    /// any partition, not two instances of one validator, and — for Twins — on the same half.
    func canLink(_ a: SimulatedNode, _ b: SimulatedNode) -> Bool {
        guard a.slot != b.slot, a.validator != b.validator, a.isRunning, b.isRunning else { return false }
        if a.behavior == .twins || b.behavior == .twins, (a.slot + b.slot) % 2 == 1 { return false }
        guard let groups else { return true }
        return groups[a.validator] == groups[b.validator]
    }

    /// Brings every link in line with who can reach whom: links that cannot hold go down at
    /// once; links that can and are down reconnect after a short handshake delay.
    func updateLinks() {
        for a in nodes {
            for b in nodes where a.slot < b.slot {
                let key = LinkKey(a.slot, b.slot)
                var link = links[key] ?? SimulatedLink()
                if canLink(a, b) {
                    if !link.isUp && !link.isConnecting {
                        link.isConnecting = true
                        queue.push(.linkUp(key, epoch: link.epoch), at: now + random.uniform(20...200))
                    }
                    links[key] = link
                } else if link.isUp || link.isConnecting {
                    links[key] = link
                    breakLink(key)
                }
            }
        }
    }

    /// Ends the connection on `key`: both routers forget the peer; messages in flight are lost.
    func breakLink(_ key: LinkKey) {
        guard var link = links[key] else { return }
        let wasUp = link.isUp
        link.isUp = false
        link.isConnecting = false
        link.epoch += 1
        links[key] = link
        guard wasUp else { return }
        for (slot, other) in [(key.low, key.high), (key.high, key.low)] where nodes[slot].isRunning {
            route(nodes[slot], nodes[slot].router.handle(.peerDisconnected(nodes[other].nodeID)))
        }
    }

    func linkUp(_ key: LinkKey, epoch: UInt64) {
        guard var link = links[key], link.epoch == epoch, link.isConnecting else { return }
        link.isConnecting = false
        guard canLink(nodes[key.low], nodes[key.high]) else {
            links[key] = link
            return
        }
        link.isUp = true
        links[key] = link
        trace.add(now, "link n\(key.low)-n\(key.high) up")
        route(nodes[key.low], nodes[key.low].router.handle(.peerConnected(nodes[key.high].nodeID)))
        route(nodes[key.high], nodes[key.high].router.handle(.peerConnected(nodes[key.low].nodeID)))
        transmit(.status(nodes[key.low].height), from: nodes[key.low], to: key.high)
        transmit(.status(nodes[key.high].height), from: nodes[key.high], to: key.low)
    }

    /// Tells `node`'s peers its new height.
    func reportHeight(_ node: SimulatedNode) {
        for peer in linkedNodes(of: node) { transmit(.status(node.height), from: node, to: peer.slot) }
    }

    // MARK: Sending

    /// Carries out a node's router effects over its links.
    func route(_ node: SimulatedNode, _ effects: [RouterEffect]) {
        for effect in effects {
            switch effect {
            case let .send(peer, channel, items): transmit(.items(channel, items), from: node, to: slot(of: peer))
            case let .announce(peer, channel, ids): transmit(.announce(channel, ids), from: node, to: slot(of: peer))
            case let .request(peer, channel, ids): transmit(.request(channel, ids), from: node, to: slot(of: peer))
            }
        }
    }

    /// Puts a message on the link from `node` to slot `target`, if it is up (a silent validator
    /// sends nothing). With the loss fault
    /// some sends break the link instead (the messages in flight are lost with it); delays hold
    /// up everything behind them on the link, as on a TCP connection.
    func transmit(_ message: LinkMessage, from node: SimulatedNode, to target: Int) {
        let key = LinkKey(node.slot, target)
        guard node.behavior != .silent, var link = links[key], link.isUp else { return }
        if faultsActive, config.faults.contains(.drop), random.chance(10) {
            trace.add(now, "link n\(key.low)-n\(key.high) breaks")
            breakLink(key)
            updateLinks()
            return
        }
        var latency = random.uniform(2...30)
        if faultsActive, config.faults.contains(.delay), random.chance(10) { latency += random.uniform(500...3_000) }
        if faultsActive, config.faults.contains(.reorder) { latency += random.uniform(0...200) }
        let lowToHigh = node.slot == key.low
        var arrival = max(now + latency, lowToHigh ? link.lastArrival.0 : link.lastArrival.1)
        queue.push(.deliver(slot: target, from: node.slot, epoch: link.epoch, message), at: arrival)
        if faultsActive, config.faults.contains(.duplicate), random.chance(5) {
            arrival += random.uniform(1...500)
            queue.push(.deliver(slot: target, from: node.slot, epoch: link.epoch, message), at: arrival)
        }
        if lowToHigh { link.lastArrival.0 = arrival } else { link.lastArrival.1 = arrival }
        links[key] = link
        report.linkMessages += 1
    }

    /// Sends a consensus message directly to one linked slot, past the router: how a Byzantine
    /// validator tells different peers different things.
    func sendDirectly(_ message: ConsensusMessage, from node: SimulatedNode, to target: SimulatedNode) {
        transmit(.items(.consensus, [ConsensusGossip.item(message)]), from: node, to: target.slot)
    }

    /// The slots `node` has a link to.
    func linkedNodes(of node: SimulatedNode) -> [SimulatedNode] {
        nodes.filter { other in links[LinkKey(node.slot, other.slot)]?.isUp == true && other.slot != node.slot }
    }

    private func slot(of peer: NodeID) -> Int { nodes.firstIndex { $0.nodeID == peer }! }

    // MARK: Receiving

    /// A message arrives over the link from `source`, unless that connection has ended since.
    func receive(_ message: LinkMessage, at node: SimulatedNode, from source: Int, epoch: UInt64) {
        guard node.isRunning, let link = links[LinkKey(node.slot, source)], link.isUp, link.epoch == epoch else { return }
        let peer = nodes[source].nodeID
        switch message {
        case let .items(.consensus, items):
            let inbound = ConsensusGossip.sort(items.map(\.bytes), seen: node.router.hasSeen, chainID: genesis.chainID) {
                ConsensusGossip.isRelevant($0, to: node.store!)
            }
            if let failure = inbound.failure { return fail("n\(node.slot) got an invalid message from n\(source): \(failure.detail)") }
            for event in inbound.routerEvents(from: peer) { route(node, node.router.handle(event)) }
            report.duplicateMessages += inbound.duplicates.count
            for (_, consensusMessage) in inbound.accepted where node.isRunning {
                trace.add(now, "n\(node.slot) <- \(describe(consensusMessage)) via n\(source)")
                perform(node, node.handle(.message(consensusMessage)))
            }
            if inbound.highestHeight > node.height + 2 { requestBlocks(for: node, from: node.height + 1) }
        case let .items(.transactions, items):
            var accepted: [GossipItem] = []
            var duplicates: [Digest] = []
            var discarded: [Digest] = []
            for item in items {
                if node.router.hasSeen(item.id) {
                    duplicates.append(item.id)
                } else if let transaction = try? SignedTransaction(canonicalBytes: item.bytes), transaction.hasValidSignature(chainID: genesis.chainID),
                          admit(transaction, to: node) {
                    accepted.append(item)
                } else {
                    discarded.append(item.id)
                }
            }
            for event: RouterEvent in [.duplicates(from: peer, duplicates), .discarded(from: peer, discarded), .accepted(from: peer, accepted)] {
                route(node, node.router.handle(event))
            }
        case let .items(channel, _):
            fail("n\(node.slot) got items on the \(channel) channel, which the simulation does not use")
        case let .announce(channel, ids):
            route(node, node.router.handle(.announced(from: peer, channel, ids)))
        case let .request(channel, ids):
            route(node, node.router.handle(.requested(from: peer, channel, ids)))
        case let .status(height):
            route(node, node.router.handle(.peerEpoch(peer, height)))
            if height > node.height { requestBlocks(for: node, from: node.height + 1) }
        }
    }

    /// Offers a transaction to `node`'s mempool; false if it refuses it.
    func admit(_ transaction: SignedTransaction, to node: SimulatedNode) -> Bool {
        guard let store = node.store, let mempool = node.mempool else { return false }
        do {
            try mempool.add(transaction, account: store.account(transaction.transaction.sender)) { store.account($0).nonce }
            return true
        } catch {
            return false
        }
    }

    /// A gossip tick: the router announces, requests and, every few ticks, checks the current
    /// height's messages reached every peer.
    func tick(_ node: SimulatedNode) {
        guard node.isRunning, let engine = node.engine else { return }
        route(node, node.router.handle(.tick))
        if node.router.tick % 5 == 0 {
            route(node, node.router.handle(.live(.consensus, engine.messagesToGossip().map(ConsensusGossip.item))))
        }
    }

    /// Originates a transaction at `node`: into its mempool, then gossiped.
    func originate(_ transaction: SignedTransaction, at node: SimulatedNode) {
        guard admit(transaction, to: node) else { return }
        route(node, node.router.handle(.published([GossipItem(id: transaction.hash, channel: .transactions, bytes: transaction.canonicalBytes)])))
    }
}

/// An unordered pair of slots.
struct LinkKey: Hashable {
    let low: Int
    let high: Int

    init(_ a: Int, _ b: Int) {
        (low, high) = a < b ? (a, b) : (b, a)
    }
}
