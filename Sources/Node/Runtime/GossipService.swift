import Consensus
import Crypto
import Dispatch
import Gossip
import Ledger
import Synchronization

/// What gossip needs from the node it serves. Called on the gossip queue.
protocol GossipHost: AnyObject, Sendable {
    var chainID: String { get }
    var committedHeight: UInt64 { get }
    /// Whether an authentic consensus message is worth acting on and relaying
    /// (`ConsensusGossip.isRelevant`).
    func isRelevant(_ message: ConsensusMessage) -> Bool
    /// An authentic, relevant, new consensus message from a peer.
    func consensusMessageArrived(_ message: ConsensusMessage)
    /// Offers transactions from a peer to the mempool; says what became of each.
    func transactionsArrived(_ transactions: [SignedTransaction]) -> [PeerTransactionOutcome]
    func committedBlocks(from height: UInt64, countMax: Int, bytesMax: Int) -> [Block]
    func syncedBlocksArrived(_ blocks: [Block])
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

/// The node's side of the peer-to-peer network: the TCP transport, the router that decides
/// what each peer gets, and the checks between them. Every gossiped message is decoded and its
/// signature verified once, before anything acts on it or relays it; a peer that sends an
/// invalid message is dropped. Runs on its own serial queue; the router ticks every 100 ms.
final class GossipService: TransportDelegate, @unchecked Sendable {
    static let tickMs = 100
    /// Ticks between refreshes of the live consensus messages.
    static let liveEveryTicks: UInt64 = 5
    /// How long transactions published here wait to be batched with others.
    static let publishDelayMs = 2
    /// Ticks before a block request without an answer may go to another peer.
    static let blockRequestTimeoutTicks: UInt64 = 20

    let transport: TCPTransport
    let counters = GossipCounters()
    private let queue = DispatchQueue(label: "tributary.gossip")
    private let log: Logger
    private let persistentPeers: [PeerAddress]

    // Touched only on `queue`.
    private var host: (any GossipHost)?
    private var router = Router()
    private var timer: DispatchSourceTimer?
    private var pendingPublish: [GossipItem] = []
    private var publishScheduled = false
    /// Each peer's last committed height, as far as its messages tell.
    private var peerHeights: [NodeID: UInt64] = [:]
    private var blockRequest: (peer: NodeID, fromHeight: UInt64, tick: UInt64)?

    init(nodeKey: SigningKey, config: TransportConfig, persistentPeers: [PeerAddress], log: Logger) {
        self.log = log
        self.persistentPeers = persistentPeers
        transport = TCPTransport(nodeKey: nodeKey, config: config) { level, message, fields in
            let mapped: Logger.Level = switch level {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            }
            log.log(mapped, message, fields: fields.map { ($0.0, $0.1) })
        }
    }

    /// Listens, dials the persistent peers and starts ticking.
    func start(host: any GossipHost) throws {
        queue.sync { self.host = host }
        try transport.start(delegate: self)
        for peer in persistentPeers { transport.dial(peer, persistent: true) }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Self.tickMs), repeating: .milliseconds(Self.tickMs))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        queue.sync { self.timer = timer }
    }

    /// Closes every connection and lets go of the host.
    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
        transport.stop()
        queue.sync { host = nil }
    }

    /// Sends a message originated here to every peer: consensus messages at once, transactions
    /// batched over a couple of milliseconds.
    func publish(_ item: GossipItem) {
        queue.async { [self] in
            pendingPublish.append(item)
            if item.channel == .consensus { return flushPublished() }
            guard !publishScheduled else { return }
            publishScheduled = true
            queue.asyncAfter(deadline: .now() + .milliseconds(Self.publishDelayMs)) { [self] in flushPublished() }
        }
    }

    /// Tells every peer this node's new height: consensus messages of the next two heights are
    /// of use to it now.
    func heightCommitted(_ height: UInt64) {
        queue.async { [self] in
            for peer in router.connectedPeers { sendDirect(.status(height: height), to: peer) }
        }
    }

    /// Asks a peer that has them for committed blocks from `height` on.
    func requestBlocks(from height: UInt64) {
        queue.async { [self] in sendBlockRequest(from: height) }
    }

    /// The connected peers with their scores.
    func peers() -> [(peer: PeerSnapshot, score: Int64)] {
        let scores = counters.scores
        return transport.peers().map { ($0, scores[$0.id] ?? 0) }
    }

    // MARK: Transport events (I/O thread)

    func transportConnected(_ peer: PeerSnapshot) {
        queue.async { [self] in
            guard let host else { return }
            perform(router.handle(.peerConnected(peer.id)))
            sendDirect(.status(height: host.committedHeight), to: peer.id)
        }
    }

    func transportDisconnected(_ peer: NodeID, reason: DropReason) {
        queue.async { [self] in
            perform(router.handle(.peerDisconnected(peer)))
            peerHeights[peer] = nil
            counters.forget(peer)
            if blockRequest?.peer == peer { blockRequest = nil }
        }
    }

    func transportReceived(_ message: WireMessage, channel: Channel, from peer: NodeID, bytes: Int) {
        queue.async { [self] in
            defer { transport.finished(bytes: bytes) }
            guard let host else { return }
            switch (message, channel) {
            case let (.items(items), .consensus): receiveConsensus(items, from: peer, host: host)
            case let (.items(items), .transactions): receiveTransactions(items, from: peer, host: host)
            case let (.items(items), .envelopes): receiveEnvelopes(items, from: peer, host: host)
            case let (.announce(ids), .consensus), let (.announce(ids), .transactions), let (.announce(ids), .envelopes):
                perform(router.handle(.announced(from: peer, channel, ids)))
            case let (.request(ids), .consensus), let (.request(ids), .transactions), let (.request(ids), .envelopes):
                perform(router.handle(.requested(from: peer, channel, ids)))
            case let (.direct(payload), .blocks): receiveBlockSync(payload, from: peer, host: host)
            default: invalid(peer, reason: "unexpected", "a \(message.kind) message on the \(channel) channel")
            }
        }
    }

    // MARK: Receiving

    private func receiveConsensus(_ items: [[UInt8]], from peer: NodeID, host: any GossipHost) {
        for _ in items { counters.received(.consensus) }
        let inbound = ConsensusGossip.sort(items, seen: router.hasSeen, chainID: host.chainID, isRelevant: host.isRelevant)
        peerHeights[peer] = max(peerHeights[peer] ?? 0, max(inbound.highestHeight, 1) - 1)
        // Far ahead (the engine itself notices the next height): fetch the blocks in between.
        if inbound.highestHeight > host.committedHeight + 2 { sendBlockRequest(from: host.committedHeight + 1) }
        for (_, message) in inbound.accepted { host.consensusMessageArrived(message) }
        if !inbound.accepted.isEmpty { counters.accepted(.consensus, count: inbound.accepted.count, from: peer) }
        logDuplicates(inbound.duplicates.count, .consensus, from: peer)
        for event in inbound.routerEvents(from: peer) { perform(router.handle(event)) }
        if let failure = inbound.failure { invalid(peer, reason: failure.reason, failure.detail) }
    }

    private func receiveTransactions(_ items: [[UInt8]], from peer: NodeID, host: any GossipHost) {
        var fresh: [(item: GossipItem, transaction: SignedTransaction)] = []
        var duplicates: [Digest] = []
        var failure: (reason: String, detail: String)?
        var batch = Set<Digest>()
        for bytes in items {
            counters.received(.transactions)
            guard let transaction = try? SignedTransaction(canonicalBytes: bytes, maxBytes: SignedTransaction.maxBytes) else {
                failure = ("malformed", "a transaction that does not decode")
                break
            }
            if router.hasSeen(transaction.hash) || !batch.insert(transaction.hash).inserted {
                duplicates.append(transaction.hash)
                continue
            }
            fresh.append((GossipItem(id: transaction.hash, channel: .transactions, bytes: bytes), transaction))
        }
        var accepted: [GossipItem] = []
        var discarded: [Digest] = []
        for (entry, outcome) in zip(fresh, host.transactionsArrived(fresh.map(\.transaction))) {
            switch outcome {
            case .admitted: accepted.append(entry.item)
            case .known: duplicates.append(entry.item.id)
            case .refused: discarded.append(entry.item.id)
            case .badSignature:
                failure = failure ?? ("bad_signature", "transaction \(entry.item.id.hex) with a bad signature")
            }
        }
        finish(from: peer, channel: .transactions, accepted: accepted, duplicates: duplicates, discarded: discarded, failure: failure)
    }

    /// Envelopes signed by their origin's node key. No kind is acted on yet (peer exchange will
    /// be the first), so authentic ones are not relayed; a bad signature drops the sender.
    private func receiveEnvelopes(_ items: [[UInt8]], from peer: NodeID, host: any GossipHost) {
        var duplicates: [Digest] = []
        var discarded: [Digest] = []
        var failure: (reason: String, detail: String)?
        for bytes in items {
            let id = Digest.blake2b(bytes)
            counters.received(.envelopes)
            if router.hasSeen(id) || discarded.contains(id) {
                duplicates.append(id)
                continue
            }
            guard let envelope = try? GossipEnvelope(canonicalBytes: bytes, maxBytes: WireMessage.payloadBytesMax) else {
                failure = ("malformed", "an envelope that does not decode")
                break
            }
            guard envelope.isAuthentic(chainID: host.chainID) else {
                failure = ("bad_signature", "a '\(envelope.kind)' envelope with a bad signature")
                break
            }
            discarded.append(id)
        }
        finish(from: peer, channel: .envelopes, accepted: [], duplicates: duplicates, discarded: discarded, failure: failure)
    }

    /// Tells the router what a batch from `peer` held, and drops the peer if part of it was invalid.
    private func finish(from peer: NodeID, channel: Channel, accepted: [GossipItem], duplicates: [Digest], discarded: [Digest],
                        failure: (reason: String, detail: String)?) {
        logDuplicates(duplicates.count, channel, from: peer)
        if !duplicates.isEmpty { perform(router.handle(.duplicates(from: peer, duplicates))) }
        if !discarded.isEmpty { perform(router.handle(.discarded(from: peer, discarded))) }
        if !accepted.isEmpty {
            counters.accepted(channel, count: accepted.count, from: peer)
            perform(router.handle(.accepted(from: peer, accepted)))
        }
        if let failure { invalid(peer, reason: failure.reason, failure.detail) }
    }

    private func receiveBlockSync(_ payload: [UInt8], from peer: NodeID, host: any GossipHost) {
        guard let message = try? BlockSyncMessage(canonicalBytes: payload, maxBytes: WireMessage.payloadBytesMax) else {
            return invalid(peer, reason: "malformed", "a block sync message that does not decode")
        }
        switch message {
        case let .status(height):
            peerHeights[peer] = max(peerHeights[peer] ?? 0, height)
            perform(router.handle(.peerEpoch(peer, height)))
            if height > host.committedHeight { sendBlockRequest(from: host.committedHeight + 1) }
        case let .request(fromHeight, countMax):
            let blocks = host.committedBlocks(from: fromHeight, countMax: Int(min(countMax, BlockSyncMessage.countMax)),
                                              bytesMax: BlockSyncMessage.answerBytesMax)
            sendDirect(.blocks(blocks, height: host.committedHeight), to: peer)
        case let .blocks(blocks, height):
            peerHeights[peer] = max(peerHeights[peer] ?? 0, height)
            if blockRequest?.peer == peer { blockRequest = nil }
            guard let last = blocks.last?.header.height else { return }
            host.syncedBlocksArrived(blocks)
            if height > last { sendBlockRequest(from: last + 1) }
        }
    }

    /// Copies of messages handled already are dropped without a second check (counted in
    /// `tributary_p2p_duplicates_dropped_total`); gossip makes a few, so they log at debug.
    private func logDuplicates(_ count: Int, _ channel: Channel, from peer: NodeID) {
        guard count > 0 else { return }
        log.debug("dropped copies of messages handled already", ["peer": peer.hex, "channel": "\(channel)", "count": count])
    }

    private func invalid(_ peer: NodeID, reason: String, _ detail: String) {
        counters.invalid(reason, from: peer)
        log.warning("dropping peer: invalid message", ["peer": peer.hex, "reason": reason, "detail": detail])
        transport.disconnect(peer, reason: .byNode("invalid message: \(detail)"))
    }

    // MARK: Sending

    private func tick() {
        guard let host else { return }
        perform(router.handle(.tick))
        counters.record(router.counters)
        if router.tick % Self.liveEveryTicks == 0 {
            host.liveConsensusMessages { [weak self] items in
                guard let self else { return }
                queue.async { [self] in perform(router.handle(.live(.consensus, items))) }
            }
        }
    }

    private func flushPublished() {
        publishScheduled = false
        guard !pendingPublish.isEmpty else { return }
        let items = pendingPublish
        pendingPublish = []
        perform(router.handle(.published(items)))
    }

    private func sendBlockRequest(from height: UInt64) {
        if let pending = blockRequest, router.tick - pending.tick < Self.blockRequestTimeoutTicks, pending.fromHeight <= height { return }
        let connected = router.connectedPeers
        guard !connected.isEmpty else { return }
        let ahead = connected.filter { (peerHeights[$0] ?? 0) >= height }
        let peer = ahead.max { (peerHeights[$0] ?? 0) < (peerHeights[$1] ?? 0) } ?? connected[Int(router.tick % UInt64(connected.count))]
        blockRequest = (peer, height, router.tick)
        sendDirect(.request(fromHeight: height, countMax: BlockSyncMessage.countMax), to: peer)
    }

    private func sendDirect(_ message: BlockSyncMessage, to peer: NodeID) {
        transport.send(.direct(message.canonicalBytes), on: .blocks, to: peer)
    }

    private func perform(_ effects: [RouterEffect]) {
        var dropped: [(peer: NodeID, ids: [Digest])] = []
        for effect in effects {
            switch effect {
            case let .send(peer, channel, items):
                if transport.send(.items(items.map(\.bytes)), on: channel, to: peer) == .dropped {
                    dropped.append((peer, items.map(\.id)))
                }
            case let .announce(peer, channel, ids):
                transport.send(.announce(ids), on: channel, to: peer)
            case let .request(peer, channel, ids):
                transport.send(.request(ids), on: channel, to: peer)
            }
        }
        for (peer, ids) in dropped { _ = router.handle(.sendDropped(to: peer, ids)) }
    }
}

/// Gossip counters for `/metrics` and peer scores, shared with the HTTP threads.
final class GossipCounters: Sendable {
    struct Values: Sendable {
        /// Items that arrived (every copy), and those that were new and valid, by channel.
        var itemsReceived = [UInt64](repeating: 0, count: Channel.allCases.count)
        var itemsAccepted = [UInt64](repeating: 0, count: Channel.allCases.count)
        var invalid: [String: UInt64] = [:]
        var router = Router.Counters()
        /// Per connected peer: new valid messages it delivered, less 100 per invalid one.
        var scores: [NodeID: Int64] = [:]
    }

    private let values = Mutex(Values())

    var snapshot: Values { values.withLock { $0 } }
    var scores: [NodeID: Int64] { values.withLock { $0.scores } }

    func received(_ channel: Channel) { values.withLock { $0.itemsReceived[Int(channel.rawValue)] += 1 } }

    func accepted(_ channel: Channel, count: Int, from peer: NodeID) {
        values.withLock {
            $0.itemsAccepted[Int(channel.rawValue)] += UInt64(count)
            $0.scores[peer, default: 0] += Int64(count)
        }
    }

    func invalid(_ reason: String, from peer: NodeID) {
        values.withLock {
            $0.invalid[reason, default: 0] += 1
            $0.scores[peer, default: 0] -= 100
        }
    }

    func record(_ router: Router.Counters) { values.withLock { $0.router = router } }
    func forget(_ peer: NodeID) { values.withLock { $0.scores[peer] = nil } }
}

extension WireMessage {
    /// The kind's name, for logs.
    var kind: String {
        switch self {
        case .ping: "ping"
        case .pong: "pong"
        case .items: "items"
        case .announce: "announce"
        case .request: "request"
        case .direct: "direct"
        }
    }
}
