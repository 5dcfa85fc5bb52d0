import Consensus
import Crypto
import Dispatch
import Gossip
import Ledger
import Synchronization

/// The node's side of the peer-to-peer network: the TCP transport, the router that decides
/// what each peer gets, and the checks between them. Every gossiped message is decoded and its
/// signature verified once, before anything acts on it or relays it; a peer that sends an
/// invalid message is dropped. Runs on its own serial queue; the router ticks every 100 ms.
///
/// It also decides when the node syncs blocks instead of following consensus (`SyncMode`): at
/// start when it has peers to wait for, until it is within one height of the highest; later
/// whenever it falls more than `SyncMode.Limits.lagBlocksMax` heights behind. Blocks are
/// fetched by a `BlockSyncPool`.
final class GossipService: TransportDelegate, @unchecked Sendable {
    static let tickMs = 100
    /// Ticks between refreshes of the live consensus messages.
    static let liveEveryTicks: UInt64 = 5
    /// How long transactions published here wait to be batched with others.
    static let publishDelayMs = 2
    /// Blocks handed to the syncer at once, and such batches in flight (while one executes,
    /// the next ones' signatures are verified; three measured faster than two in bench sync).
    static let syncBatchBlocksMax = 64
    static let syncBatchesInFlightMax = 3
    /// Block requests served per peer and tick (a syncing peer keeps at most 3 outstanding, so
    /// an honest one stays far below); each beyond is not served and costs the peer score.
    static let blockRequestsPerTickMax = 20
    /// Ticks between looks at the outbound connections (peer exchange dials) and between saves
    /// of the address book.
    static let discoverEveryTicks: UInt64 = 10
    static let saveBookEveryTicks: UInt64 = 300
    /// How often a syncing node logs its progress.
    static let syncProgressEveryTicks: UInt64 = 20

    let transport: TCPTransport
    let counters = GossipCounters()
    /// Whether the node is in block sync, and the highest height its peers have; for `/v1/status`.
    let syncState = Mutex(SyncState())
    private let queue = DispatchQueue(label: "tributary.gossip")
    private let log: Logger
    private let persistentPeers: [PeerAddress]
    private let banMs: UInt64
    private let banFile: PeerBanFile?
    /// Each peer's score, for `/v1/net/peers`, refreshed every tick.
    private let scoreSnapshot = Mutex<[NodeID: Int64]>([:])

    // Touched only on `queue`.
    private var host: (any GossipHost)?
    private var router = Router()
    private var scores = PeerScores()
    /// Block requests served this tick, by peer.
    private var blockRequestsServed: [NodeID: Int] = [:]
    private var bans: [PeerBanFile.Ban] = []
    /// Peer exchange; nil when `pex` is off (only persistent peers are dialed).
    private var discovery: PeerDiscovery?
    private var timer: DispatchSourceTimer?
    private var pendingPublish: [GossipItem] = []
    private var publishScheduled = false
    private var pool = BlockSyncPool<Block>(appliedHeight: 0)
    private var syncMode = SyncMode(syncing: false)
    private var syncing: Bool { syncMode.isSyncing }
    private var syncBatchesInFlight = 0
    /// The engine asked for blocks since its last commit.
    private var engineWantsBlocks = false
    /// Who sent the fetched blocks handed to the engine, by height, until they are committed.
    private var handedToEngine: [UInt64: NodeID] = [:]
    /// A syncing node tells its peers its height once a tick, not at every block.
    private var statusChanged = false
    private var syncProgress: (tick: UInt64, height: UInt64) = (0, 0)

    /// A peer whose score falls below the threshold is banned for `banMs`; bans are kept in
    /// `banFile` (none kept when nil).
    init(nodeKey: SigningKey, config: TransportConfig, persistentPeers: [PeerAddress], banMs: UInt64, banFile: PeerBanFile?,
         discovery: PeerDiscovery?, log: Logger) {
        self.log = log
        self.persistentPeers = persistentPeers
        self.banMs = banMs
        self.banFile = banFile
        self.discovery = discovery
        transport = TCPTransport(nodeKey: nodeKey, config: config) { level, message, fields in
            let mapped: Logger.Level = switch level {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            }
            log.log(mapped, message, fields: fields.map { ($0.0, $0.1) })
        }
    }

    /// Listens, dials the persistent peers and starts ticking. A node with persistent peers
    /// starts in block sync; one without follows consensus at once.
    func start(host: any GossipHost) throws {
        let now = TCPTransport.wallMs()
        let kept = try banFile?.load(nowMs: now) ?? []
        for ban in kept {
            transport.ban(NodeID(hex: ban.id)!, untilMs: ban.until_ms, reason: ban.reason)
            if let host = ban.host { transport.banHost(host, untilMs: ban.until_ms) }
        }
        if !kept.isEmpty { log.info("peers banned earlier", ["count": kept.count]) }
        queue.sync {
            bans = kept
            self.host = host
            pool = BlockSyncPool(appliedHeight: host.committedHeight)
            syncProgress = (0, host.committedHeight)
            if persistentPeers.isEmpty && (discovery.map { $0.seeds.isEmpty && $0.book.count == 0 } ?? true) {
                host.blockSyncFinished()
            } else {
                syncMode = SyncMode(syncing: true)
                publishSyncState()
                log.info("block sync: waiting for peers' heights", ["height": host.committedHeight])
            }
        }
        try transport.start(delegate: self)
        for peer in persistentPeers { transport.dial(peer, persistent: true) }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Self.tickMs), repeating: .milliseconds(Self.tickMs))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        queue.sync { self.timer = timer }
    }

    /// Closes every connection, saves the address book and lets go of the host.
    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
        transport.stop()
        queue.sync {
            host = nil
            saveAddressBook()
        }
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

    /// Tells every peer this node's new height (consensus messages of the next two heights are
    /// of use to it now) — at once when following consensus, at the next tick in block sync.
    func heightCommitted(_ height: UInt64) {
        queue.async { [self] in
            guard let host else { return }
            engineWantsBlocks = false
            handedToEngine = handedToEngine.filter { $0.key > height }
            perform(pool.applied(through: height))
            if syncing {
                statusChanged = true
            } else {
                for peer in router.connectedPeers { sendDirect(.status(height: height), to: peer) }
            }
            updateSyncMode(host)
        }
    }

    /// The engine lacks committed blocks from `height` on (it saw messages of later heights,
    /// or still lacks them after a retry interval): fetch them, and drop blocks it was handed
    /// but did not commit — they may be bad.
    func requestBlocks(from height: UInt64) {
        queue.async { [self] in
            guard let host, !syncing else { return }
            engineWantsBlocks = true
            if pool.handedOutHeight > pool.appliedHeight {
                handedToEngine = [:]
                perform(pool.discardUnapplied())
            }
            updateSyncMode(host)
        }
    }

    /// The engine refused the fetched block of `height` (it fails its certificate or its
    /// execution, `reason`): its sender is reported, as block sync reports a bad block, and the height
    /// is asked of others.
    func syncedBlockRefused(_ height: UInt64, reason: String) {
        queue.async { [self] in
            guard let host, !syncing, let sender = handedToEngine[height], height == pool.appliedHeight + 1 else { return }
            handedToEngine = [:]
            perform(pool.rejected(height: height, from: sender, reason: reason))
            updateSyncMode(host)
        }
    }

    /// The connected peers with their scores.
    func peers() -> [(peer: PeerSnapshot, score: Int64)] {
        let scores = scoreSnapshot.withLock { $0 }
        return transport.peers().map { ($0, scores[$0.id] ?? 0) }
    }


    // MARK: Transport events (I/O thread)

    func transportConnected(_ peer: PeerSnapshot) {
        queue.async { [self] in
            guard let host else { return }
            discovery?.connected(peer.id, outbound: peer.direction == .outbound, nowMs: TCPTransport.wallMs())
            perform(router.handle(.peerConnected(peer.id)))
            sendDirect(.status(height: host.committedHeight), to: peer.id)
        }
    }

    func transportDisconnected(_ peer: NodeID, reason: DropReason) {
        queue.async { [self] in
            perform(router.handle(.peerDisconnected(peer)))
            perform(pool.handle(.peerRemoved(peer)))
        }
    }

    func transportDialFailed(_ address: PeerAddress) {
        queue.async { [self] in discovery?.dialFailed(address, nowMs: TCPTransport.wallMs()) }
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
        if inbound.highestHeight > 1 { perform(pool.handle(.peerHeight(peer, inbound.highestHeight - 1))) }
        for (item, message) in inbound.accepted { host.consensusMessageArrived(message, bytes: item.bytes.count) }
        if !inbound.accepted.isEmpty { accepted(.consensus, count: inbound.accepted.count, from: peer) }
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

    /// Envelopes signed by their origin's node key; a bad signature drops the sender. Address
    /// records (`peers/v1`) that are news feed the address book and are relayed; other kinds
    /// are not acted on yet, so not relayed.
    private func receiveEnvelopes(_ items: [[UInt8]], from peer: NodeID, host: any GossipHost) {
        var duplicates: [Digest] = []
        var discarded: [Digest] = []
        var accepted: [GossipItem] = []
        var handled: Set<Digest> = []  // discarded and accepted ids, for a constant-time check
        var failure: (reason: String, detail: String)?
        for bytes in items {
            let id = Digest.blake2b(bytes)
            counters.received(.envelopes)
            if router.hasSeen(id) || !handled.insert(id).inserted {
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
            let item = GossipItem(id: id, channel: .envelopes, bytes: bytes)
            if envelope.kind == AddressRecord.kind, discovery?.recordArrived(envelope, item: item, nowMs: TCPTransport.wallMs()) == true {
                accepted.append(item)
            } else {
                discarded.append(id)
            }
        }
        finish(from: peer, channel: .envelopes, accepted: accepted, duplicates: duplicates, discarded: discarded, failure: failure)
        if !accepted.isEmpty, let discovery { perform(router.handle(.live(.envelopes, discovery.liveRecords))) }
    }

    // MARK: Peer exchange

    /// Publishes this node's address record when due and dials toward `outbound_peers_max`.
    private func discover() {
        guard var discovery else { return }
        let nowMs = TCPTransport.wallMs()
        if let record = discovery.ownRecordIfDue(nowMs: nowMs) {
            perform(router.handle(.published([record])))
            perform(router.handle(.live(.envelopes, discovery.liveRecords)))
        }
        let peers = transport.peers()
        let dials = discovery.dials(
            outbound: peers.count { $0.direction == .outbound }, outboundMax: transport.config.outboundPeersMax,
            connected: Set(peers.map(\.id)).union(persistentPeers.map(\.id)),
            connectedHosts: Set(peers.map { (try? PeerAddress.splitHostPort($0.address).host) ?? $0.address }),
            isBanned: transport.isBanned, nowMs: nowMs)
        self.discovery = discovery
        for address in dials {
            log.debug("dialing a peer from the address book", ["peer": address.description])
            transport.dial(address, persistent: false)
        }
        if router.tick % Self.saveBookEveryTicks == 0 { saveAddressBook() }
    }

    private func saveAddressBook() {
        do { try discovery?.save() } catch { log.warning("could not save the address book", ["error": "\(error)"]) }
    }

    /// Tells the router what a batch from `peer` held, and drops the peer if part of it was invalid.
    private func finish(from peer: NodeID, channel: Channel, accepted: [GossipItem], duplicates: [Digest], discarded: [Digest],
                        failure: (reason: String, detail: String)?) {
        logDuplicates(duplicates.count, channel, from: peer)
        if !duplicates.isEmpty { perform(router.handle(.duplicates(from: peer, duplicates))) }
        if !discarded.isEmpty { perform(router.handle(.discarded(from: peer, discarded))) }
        if !accepted.isEmpty {
            self.accepted(channel, count: accepted.count, from: peer)
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
            perform(router.handle(.peerEpoch(peer, height)))
            perform(pool.handle(.peerHeight(peer, height)))
            updateSyncMode(host)
        case let .request(fromHeight, countMax):
            guard blockRequestsServed[peer, default: 0] < Self.blockRequestsPerTickMax else {
                score(.overLimit(1), peer, reason: "block requests over \(Self.blockRequestsPerTickMax * 10) per second")
                return
            }
            blockRequestsServed[peer, default: 0] += 1
            let blocks = host.committedBlocks(from: fromHeight, countMax: Int(min(countMax, BlockSyncMessage.countMax)),
                                              bytesMax: BlockSyncMessage.answerBytesMax)
            sendDirect(.blocks(blocks, height: host.committedHeight), to: peer)
        case let .blocks(blocks, height):
            // Heights are the peer's word: no arithmetic on them may trap.
            let first = blocks.first?.header.height ?? (height == .max ? height : height + 1)
            guard blocks.indices.allSatisfy({ first.addingReportingOverflow(UInt64($0)) == (blocks[$0].header.height, false) }) else {
                return invalid(peer, reason: "malformed", "blocks that are not consecutive heights")
            }
            perform(pool.handle(.received(from: peer, fromHeight: first, blocks: blocks, peerHeight: height)))
            updateSyncMode(host)
        }
    }

    // MARK: Block sync

    /// Switches between block sync and consensus when the heights say so (`SyncMode`), and
    /// hands the blocks ready in order to whichever runs.
    private func updateSyncMode(_ host: any GossipHost) {
        let committed = host.committedHeight
        let now = SyncMode.Observation(
            tick: router.tick, committedHeight: committed, peersHeight: pool.targetHeight, caughtUp: pool.isCaughtUp,
            noPeerHeights: pool.peerHeights.isEmpty, batchesApplying: syncBatchesInFlight, engineWantsBlocks: engineWantsBlocks,
            fetching: pool.isActive)
        for effect in syncMode.update(now) {
            switch effect {
            case .syncFinished:
                log.info("block sync finished; following consensus", ["height": committed, "peers_height": pool.targetHeight])
                for peer in router.connectedPeers { sendDirect(.status(height: committed), to: peer) }
                publishSyncState()
                host.blockSyncFinished()
            case .syncStarted:
                log.info("fell behind; block sync", ["height": committed, "peers_height": pool.targetHeight])
                handedToEngine = [:]
                perform(pool.discardUnapplied())
                publishSyncState()
                host.blockSyncStarted()
            case let .fetch(wanted):
                perform(pool.setActive(wanted))
            }
        }
        handOutReadyBlocks(host)
    }

    private func handOutReadyBlocks(_ host: any GossipHost) {
        guard syncing else {
            let ready = pool.takeReady(countMax: Int(ConsensusDriver.syncedBlocksAheadMax))
            for block in ready { handedToEngine[block.height] = block.from }
            if !ready.isEmpty { host.syncedBlocksArrived(ready.map(\.block)) }
            return
        }
        while syncBatchesInFlight < Self.syncBatchesInFlightMax {
            let batch = pool.takeReady(countMax: Self.syncBatchBlocksMax)
            guard !batch.isEmpty else { return }
            syncBatchesInFlight += 1
            host.applySyncedBlocks(batch) { [weak self] outcome in
                guard let self else { return }
                queue.async { [self] in syncBatchDone(outcome) }
            }
        }
    }

    private func syncBatchDone(_ outcome: BlockSyncer.Outcome) {
        syncBatchesInFlight -= 1
        guard let host else { return }
        if outcome.appliedThrough > pool.appliedHeight { statusChanged = true }
        perform(pool.applied(through: outcome.appliedThrough))
        if let rejection = outcome.rejection, rejection.height == pool.appliedHeight + 1 {
            perform(pool.rejected(height: rejection.height, from: rejection.peer, reason: rejection.reason))
        }
        updateSyncMode(host)
    }

    private func publishSyncState() {
        syncState.withLock { $0 = SyncState(catchingUp: syncing, targetHeight: pool.targetHeight) }
    }

    private func logSyncProgress(_ host: any GossipHost) {
        guard syncing, router.tick - syncProgress.tick >= Self.syncProgressEveryTicks else { return }
        let height = host.committedHeight
        let seconds = Double(router.tick - syncProgress.tick) * Double(Self.tickMs) / 1_000
        log.info("block sync", [
            "height": height, "target": pool.targetHeight,
            "blocks_per_s": Int((Double(height - syncProgress.height) / seconds).rounded()), "peers": pool.peerHeights.count,
        ])
        syncProgress = (router.tick, height)
    }

    /// Copies of messages handled already are dropped without a second check (counted in
    /// `tributary_p2p_duplicates_dropped_total`); gossip makes a few, so they log at debug.
    /// Each costs its sender a point of score.
    private func logDuplicates(_ count: Int, _ channel: Channel, from peer: NodeID) {
        guard count > 0 else { return }
        log.debug("dropped copies of messages handled already", ["peer": peer.hex, "channel": "\(channel)", "count": count])
        score(.duplicates(count), peer, reason: "floods copies of known messages")
    }

    private func accepted(_ channel: Channel, count: Int, from peer: NodeID) {
        counters.accepted(channel, count: count)
        score(.useful(count), peer, reason: "")
    }

    private func invalid(_ peer: NodeID, reason: String, _ detail: String) {
        counters.invalid(reason)
        log.warning("dropping peer: invalid message", ["peer": peer.hex, "reason": reason, "detail": detail])
        if !score(.invalid, peer, reason: "invalid messages: \(detail)") {
            transport.disconnect(peer, reason: .byNode("invalid message: \(detail)"))
        }
    }

    /// Records what `peer` did; bans it (for `banMs`, kept in the ban file) when its score
    /// falls below the threshold, and then returns true.
    @discardableResult
    private func score(_ event: PeerScores.Event, _ peer: NodeID, reason: String) -> Bool {
        // Messages it sent before the ban may still be on this queue: they change nothing.
        if transport.isBanned(peer) { return true }
        guard scores.record(event, for: peer) else { return false }
        let untilMs = TCPTransport.wallMs() + banMs
        counters.banned()
        let host = transport.ban(peer, untilMs: untilMs, reason: reason)
        log.warning("banning peer", ["peer": peer.hex, "for_s": banMs / 1_000, "reason": reason, "host": host ?? "none"])
        bans.removeAll { $0.id == peer.hex }
        bans.append(.init(id: peer.hex, until_ms: untilMs, reason: reason, host: host))
        do { try banFile?.save(bans, nowMs: TCPTransport.wallMs()) } catch {
            log.error("could not save the peer ban list", ["error": "\(error)"])
        }
        return true
    }

    // MARK: Sending

    private func tick() {
        guard let host else { return }
        perform(router.handle(.tick))
        counters.record(router.counters)
        perform(pool.handle(.tick))
        scores.tick()
        blockRequestsServed = [:]
        scoreSnapshot.withLock { $0 = scores.scores }
        if statusChanged {
            statusChanged = false
            for peer in router.connectedPeers { sendDirect(.status(height: host.committedHeight), to: peer) }
        }
        logSyncProgress(host)
        publishSyncState()
        if router.tick % Self.discoverEveryTicks == 1 { discover() }
        updateSyncMode(host)
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

    private func sendDirect(_ message: BlockSyncMessage, to peer: NodeID) {
        transport.send(.direct(message.canonicalBytes), on: .blocks, to: peer)
    }

    private func perform(_ effects: [BlockSyncEffect]) {
        for effect in effects {
            switch effect {
            case let .request(peer, fromHeight, count):
                sendDirect(.request(fromHeight: fromHeight, countMax: count), to: peer)
            case let .misbehaved(peer, reason):
                counters.invalid("bad_block")
                log.warning("dropping peer: it sent a bad block", ["peer": peer.hex, "reason": reason])
                score(.badBlock, peer, reason: "bad block: \(reason)")
            case let .unanswered(peer):
                score(.unanswered, peer, reason: "block requests left unanswered")
            }
        }
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
