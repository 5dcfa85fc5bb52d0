import Crypto
import Foundation
import Synchronization

/// Hears what the transport does. Calls come on the transport's I/O thread and must return
/// quickly (hand the work to another queue).
public protocol TransportDelegate: AnyObject, Sendable {
    func transportConnected(_ peer: PeerSnapshot)
    func transportDisconnected(_ peer: NodeID, reason: DropReason)
    /// A message from `peer`. Its `bytes` count against the transport's inbound budget until
    /// the node calls `TCPTransport.finished(bytes:)`; reading pauses while the budget is spent.
    func transportReceived(_ message: WireMessage, channel: Channel, from peer: NodeID, bytes: Int)
    /// A dial of `address` ended without a connection (unreachable, refused, failed handshake).
    func transportDialFailed(_ address: PeerAddress)
}

/// A log line from the transport: level, message, fields.
public typealias TransportLog = @Sendable (_ level: TransportLogLevel, _ message: String, _ fields: [(String, String)]) -> Void

public enum TransportLogLevel: Sendable { case debug, info, warning }

/// Peer connections over TCP: listening, dialing (persistent peers are redialed with backoff),
/// the handshake, encrypted frames, channels multiplexed by priority, keepalives and every
/// limit of `TransportConfig`. One I/O thread runs all sockets with `poll`; other threads only
/// queue messages (`send`) and ask for dials and disconnects. A dead, slow or misbehaving peer
/// is dropped and never blocks the node: sends go to bounded queues and return at once.
public final class TCPTransport: @unchecked Sendable {
    public enum SendResult: Sendable, Equatable {
        case queued
        /// The peer's queue had no room (transactions and envelopes only; a full queue on other
        /// channels drops the peer).
        case dropped
        case notConnected
    }

    public let nodeID: NodeID
    public let metrics = TransportMetrics()
    public let config: TransportConfig
    /// The address the listener is bound to (the kernel's choice for port 0), once started.
    public private(set) var boundAddress: String?

    private let nodeKey: SigningKey
    private let log: TransportLog
    private let shared = Mutex(Shared())
    private let pendingInboundBytes = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let loopEnded = DispatchSemaphore(value: 0)
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private var listener: Int32 = -1

    // Touched only on the I/O thread.
    private var delegate: (any TransportDelegate)?
    private var connections: [Int32: Connection] = [:]
    private var persistent: [NodeID: PersistentPeer] = [:]
    private var random = SystemRandomNumberGenerator()

    /// State other threads reach through `shared`.
    private struct Shared {
        var peers: [NodeID: Connection] = [:]
        var dials: [(address: PeerAddress, persistent: Bool)] = []
        var resolved: [(address: PeerAddress, result: Result<[Sockets.Address], Sockets.Failure>)] = []
        var disconnects: [(peer: NodeID, reason: DropReason)] = []
        /// Peers refused until a wall-clock time (unix ms).
        var bannedUntilMs: [NodeID: UInt64] = [:]
        /// Hosts (never loopback) whose every node id is refused until a wall-clock time.
        var bannedHostsUntilMs: [String: UInt64] = [:]
        var woken = false
    }

    private struct PersistentPeer {
        let address: PeerAddress
        var failures = 0
        var nextDialMs: UInt64 = 0
        var dialing = false
    }

    public init(nodeKey: SigningKey, config: TransportConfig, log: @escaping TransportLog) {
        precondition(config.defect == nil, "transport config: \(config.defect!)")
        self.nodeKey = nodeKey
        self.nodeID = nodeKey.publicKey
        self.config = config
        self.log = log
    }

    /// Binds the listener (if configured) and starts the I/O thread.
    public func start(delegate: any TransportDelegate) throws {
        precondition(!running.load(ordering: .acquiring), "transport already started")
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw Sockets.Failure("pipe") }
        pipeEnds.forEach(Sockets.makeNonBlocking)
        (wakeRead, wakeWrite) = (pipeEnds[0], pipeEnds[1])
        if let address = config.listenAddress {
            let (host, port): (String, UInt16)
            do { (host, port) = try PeerAddress.splitHostPort(address) } catch { throw Sockets.Failure(message: "p2p address: \(error)") }
            let bound = try Sockets.listen(host: host, port: port)
            listener = bound.descriptor
            boundAddress = bound.address.description
        }
        self.delegate = delegate
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in runLoop() }
        thread.name = "tributary.p2p"
        thread.start()
    }

    /// Closes every connection and the listener, and waits for the I/O thread to end.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        wake()
        loopEnded.wait()
    }

    /// Connects to `address`; a persistent peer is redialed whenever its connection ends.
    public func dial(_ address: PeerAddress, persistent: Bool) {
        shared.withLock { $0.dials.append((address, persistent)) }
        wake()
    }

    /// Queues `message` for `peer` on `channel` and returns at once.
    @discardableResult
    public func send(_ message: WireMessage, on channel: Channel, to peer: NodeID) -> SendResult {
        precondition(channel != .control, "the control channel is the transport's own")
        guard let connection = shared.withLock({ $0.peers[peer] }) else { return .notConnected }
        let bytes = message.canonicalBytes
        precondition(bytes.count <= config.messageBytesMax, "message of \(bytes.count) bytes over message_bytes_max")
        guard connection.session.queue.withLock({ $0.append(bytes, channel: channel) }) else {
            if !channel.dropsWhenFull { disconnect(peer, reason: .sendQueueFull(channel)) }
            return .dropped
        }
        wake()
        return .queued
    }

    /// Drops the connection to `peer` (if any), logging `reason`.
    public func disconnect(_ peer: NodeID, reason: DropReason) {
        shared.withLock { $0.disconnects.append((peer, reason)) }
        wake()
    }

    /// Drops `peer` and refuses it — its connections and dials to it — until `untilMs` (unix
    /// milliseconds). When `peer` is connected from a host other than loopback, that host is
    /// banned as long (`banHost`), so a fresh node id from it gets no further; returns the host.
    @discardableResult
    public func ban(_ peer: NodeID, untilMs: UInt64, reason: String) -> String? {
        let host = shared.withLock { shared -> String? in
            shared.bannedUntilMs[peer] = max(shared.bannedUntilMs[peer] ?? 0, untilMs)
            guard let connection = shared.peers[peer], !connection.remoteIsLoopback else { return nil }
            shared.bannedHostsUntilMs[connection.remoteHost] = max(shared.bannedHostsUntilMs[connection.remoteHost] ?? 0, untilMs)
            return connection.remoteHost
        }
        disconnect(peer, reason: .banned(reason))
        return host
    }

    /// Refuses every connection from `host` (an address as `Sockets.Address.host` gives it)
    /// until `untilMs` (unix milliseconds); loopback is never refused.
    public func banHost(_ host: String, untilMs: UInt64) {
        shared.withLock { $0.bannedHostsUntilMs[host] = max($0.bannedHostsUntilMs[host] ?? 0, untilMs) }
    }

    /// Whether connections from `host` are refused now for its ban (never for loopback).
    private func isHostBanned(_ host: String, loopback: Bool) -> Bool {
        guard !loopback else { return false }
        return shared.withLock { ($0.bannedHostsUntilMs[host] ?? 0) > Self.wallMs() }
    }

    /// How many peers are banned now.
    public var bannedCount: Int {
        let now = Self.wallMs()
        return shared.withLock { $0.bannedUntilMs.values.count { $0 > now } }
    }

    /// Whether `peer` is banned now.
    public func isBanned(_ peer: NodeID) -> Bool {
        shared.withLock { ($0.bannedUntilMs[peer] ?? 0) > Self.wallMs() }
    }

    /// Returns `bytes` of delivered messages to the inbound budget.
    public func finished(bytes: Int) {
        pendingInboundBytes.wrappingSubtract(bytes, ordering: .relaxed)
    }

    /// The connected peers.
    public func peers() -> [PeerSnapshot] {
        shared.withLock { Array($0.peers.values) }.compactMap(\.snapshot).sorted { $0.id < $1.id }
    }

    public var peerCount: Int { shared.withLock { $0.peers.count } }

    private func wake() {
        let first = shared.withLock { shared in
            defer { shared.woken = true }
            return !shared.woken
        }
        if first {
            var byte: UInt8 = 1
            _ = Glibc.write(wakeWrite, &byte, 1)
        }
    }

    // MARK: The I/O loop

    private static let pollIntervalMs: Int32 = 50
    private static let readChunkBytes = 65_536

    private func runLoop() {
        var scratch = [UInt8](repeating: 0, count: Self.readChunkBytes)
        while running.load(ordering: .acquiring) {
            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if listener >= 0 { descriptors.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            let now = Self.monotonicMs()
            let readsAllowed = pendingInboundBytes.load(ordering: .relaxed) < config.inboundPendingBytesMax
            let polled = Array(connections.values)
            for connection in polled {
                var events: Int16 = 0
                if connection.isConnecting || connection.session.hasOutput || connection.hasQueuedMessages { events |= Int16(POLLOUT) }
                if !connection.isConnecting && connection.mayRead(now: now, inboundAllowed: readsAllowed, rate: config.receiveBytesPerSecondMax) {
                    events |= Int16(POLLIN)
                }
                descriptors.append(pollfd(fd: connection.descriptor, events: events, revents: 0))
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Self.pollIntervalMs)
            if ready < 0 && errno != EINTR { log(.warning, "poll failed", [("error", String(cString: strerror(errno)))]) }
            if descriptors[0].revents != 0 { drainWake() }
            if listener >= 0, descriptors[1].revents != 0 { acceptAll() }
            let offset = listener >= 0 ? 2 : 1
            for (index, connection) in polled.enumerated() {
                let events = descriptors[offset + index].revents
                guard events != 0, !connection.isClosed else { continue }
                if connection.isConnecting {
                    finishConnect(connection)
                    continue
                }
                if events & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readFrom(connection, scratch: &scratch) }
                if !connection.isClosed && events & Int16(POLLOUT) != 0 { flush(connection) }
            }
            takeRequests()
            for connection in Array(connections.values) where !connection.isClosed && connection.hasQueuedMessages {
                flush(connection)
            }
            checkTimers(now: Self.monotonicMs())
        }
        for connection in Array(connections.values) { close(connection, .shutdown, notify: false) }
        if listener >= 0 { Glibc.close(listener) }
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        delegate = nil
        loopEnded.signal()
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// Dials, resolved addresses and disconnects asked for by other threads.
    private func takeRequests() {
        let (dials, resolved, disconnects) = shared.withLock { shared in
            defer {
                shared.dials = []
                shared.resolved = []
                shared.disconnects = []
                shared.woken = false
            }
            return (shared.dials, shared.resolved, shared.disconnects)
        }
        for (address, isPersistent) in dials {
            if isPersistent {
                if persistent[address.id] == nil { persistent[address.id] = PersistentPeer(address: address) }
            } else {
                startDial(address)
            }
        }
        for (address, result) in resolved {
            switch result {
            case let .success(addresses):
                do {
                    let descriptor = try Sockets.connect(to: addresses[0])
                    let connection = Connection(
                        descriptor: descriptor, direction: .outbound, remote: addresses[0], dialed: address,
                        session: newSession(.dialer(expected: address.id)), nowMs: Self.monotonicMs(),
                        receiveBytesPerSecondMax: config.receiveBytesPerSecondMax)
                    connections[descriptor] = connection
                } catch {
                    dialFailed(address, "\(error)")
                }
            case let .failure(error):
                dialFailed(address, "\(error)")
            }
        }
        for (peer, reason) in disconnects {
            if let connection = shared.withLock({ $0.peers[peer] }) { close(connection, reason) }
        }
    }

    private func newSession(_ role: Handshake.Role) -> PeerSession {
        PeerSession(handshake: Handshake(role: role, nodeKey: nodeKey, chainID: config.chainID), config: config, metrics: metrics)
    }

    // MARK: Dialing

    private func startDial(_ address: PeerAddress) {
        guard address.id != nodeID, !isBanned(address.id), shared.withLock({ $0.peers[address.id] == nil }) else { return }
        let outbound = connections.values.filter { $0.direction == .outbound && !$0.isClosed }.count
        guard outbound < config.outboundPeersMax else {
            log(.debug, "not dialing: outbound_peers_max reached", [("peer", address.description)])
            scheduleRedial(address.id)
            return
        }
        persistent[address.id]?.dialing = true
        DispatchQueue.global().async { [self] in
            let result = Result(catching: { () throws(Sockets.Failure) in try Sockets.resolve(host: address.host, port: address.port) })
            shared.withLock { $0.resolved.append((address, result)) }
            wake()
        }
    }

    private func dialFailed(_ address: PeerAddress, _ why: String) {
        log(.debug, "dial failed", [("peer", address.description), ("error", why)])
        scheduleRedial(address.id)
        delegate?.transportDialFailed(address)
    }

    private func scheduleRedial(_ peer: NodeID) {
        guard var entry = persistent[peer] else { return }
        entry.dialing = false
        entry.failures += 1
        let exponent = min(entry.failures - 1, 16)
        let delay = min(config.dialBackoffLastMs, config.dialBackoffFirstMs << exponent)
        let jitter = Int.random(in: 0...max(1, delay / 4), using: &random)
        entry.nextDialMs = Self.monotonicMs() + UInt64(delay + jitter)
        persistent[peer] = entry
    }

    private func finishConnect(_ connection: Connection) {
        let code = Sockets.pendingError(connection.descriptor)
        guard code == 0 else {
            close(connection, .socketError("connect to \(connection.remote): \(String(cString: strerror(code)))"))
            return
        }
        connection.connected(nowMs: Self.monotonicMs())
        flush(connection)
    }

    private func acceptAll() {
        while let (descriptor, address) = Sockets.accept(listener) {
            let inbound = connections.values.filter { $0.direction == .inbound && !$0.isClosed }.count
            guard inbound < config.inboundPeersMax else {
                Glibc.close(descriptor)
                metrics.handshakeFailed("inbound_full")
                log(.info, "refused inbound connection: inbound_peers_max reached", [("address", address.description)])
                continue
            }
            guard !isHostBanned(address.host, loopback: address.isLoopback) else {
                Glibc.close(descriptor)
                metrics.handshakeFailed("host_banned")
                log(.info, "refused inbound connection: its host is banned", [("address", address.description)])
                continue
            }
            if !address.isLoopback {
                let host = address.host
                let handshaking = connections.values.filter {
                    $0.direction == .inbound && !$0.isClosed && !$0.session.isEstablished && $0.remoteHost == host
                }.count
                guard handshaking < config.inboundHandshakesPerHostMax else {
                    Glibc.close(descriptor)
                    metrics.handshakeFailed("host_handshakes")
                    log(.info, "refused inbound connection: inbound_handshakes_per_host_max reached", [("address", address.description)])
                    continue
                }
            }
            let connection = Connection(
                descriptor: descriptor, direction: .inbound, remote: address, dialed: nil,
                session: newSession(.listener), nowMs: Self.monotonicMs(), receiveBytesPerSecondMax: config.receiveBytesPerSecondMax)
            connections[descriptor] = connection
            flush(connection)
        }
    }

    // MARK: Reading and writing

    private func readFrom(_ connection: Connection, scratch: inout [UInt8]) {
        let now = Self.monotonicMs()
        let limit = connection.readLimit(now: now, rate: config.receiveBytesPerSecondMax, chunk: scratch.count)
        guard limit > 0 else { return }
        let count = scratch.withUnsafeMutableBytes { Glibc.read(connection.descriptor, $0.baseAddress, limit) }
        if count == 0 { return close(connection, .closedByPeer) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return close(connection, .socketError("read: \(String(cString: strerror(errno)))"))
        }
        connection.received(count, nowMs: now)
        let events: [PeerSession.Event]
        do {
            events = try scratch.withUnsafeBytes { try connection.session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        } catch let reason as DropReason {
            return close(connection, reason)
        } catch {
            preconditionFailure("a session throws only drop reasons")
        }
        for event in events {
            switch event {
            case let .established(peer):
                register(connection, as: peer)
            case let .message(channel, message, bytes):
                guard let peer = connection.session.peerID, shared.withLock({ $0.peers[peer] === connection }) else { continue }
                pendingInboundBytes.wrappingAdd(bytes, ordering: .relaxed)
                delegate?.transportReceived(message, channel: channel, from: peer, bytes: bytes)
            }
            if connection.isClosed { return }
        }
        flush(connection)
    }

    /// Writes what the socket takes, one frame at a time so urgent channels overtake.
    private func flush(_ connection: Connection) {
        let now = Self.monotonicMs()
        while true {
            if !connection.session.hasOutput && !connection.session.fillOutput() {
                connection.stalledSinceMs = nil
                return
            }
            let session = connection.session
            // MSG_NOSIGNAL: a peer that closed its end makes this fail with EPIPE, not kill the process with SIGPIPE.
            let written = session.output.withUnsafeBytes {
                Glibc.send(connection.descriptor, $0.baseAddress! + session.outputStart, $0.count - session.outputStart, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                session.consumeOutput(written)
                connection.sent(nowMs: now)
                continue
            }
            if written < 0 && (errno == EAGAIN || errno == EINTR) {
                if connection.stalledSinceMs == nil { connection.stalledSinceMs = now }
                return
            }
            return close(connection, .socketError("write: \(String(cString: strerror(errno)))"))
        }
    }

    // MARK: Peers

    /// Admits a connection whose handshake verified `peer`. When two connections join the same
    /// pair of nodes, both ends keep the same one: the newer if one node dialed both (the older
    /// is likely dead), else the one dialed by the node with the smaller id.
    private func register(_ connection: Connection, as peer: NodeID) {
        if isBanned(peer) || isHostBanned(connection.remoteHost, loopback: connection.remoteIsLoopback) { return close(connection, .banned("banned earlier"), notify: false) }
        let dialer = connection.direction == .outbound ? nodeID : peer
        if let existing = shared.withLock({ $0.peers[peer] }) {
            let existingDialer = existing.direction == .outbound ? nodeID : peer
            if existingDialer != dialer && dialer != min(nodeID, peer) {
                return close(connection, .duplicateConnection, notify: false)
            }
            close(existing, .duplicateConnection)
        }
        connection.established(wallMs: UInt64(Date().timeIntervalSince1970 * 1000))
        shared.withLock { $0.peers[peer] = connection }
        if var entry = persistent[peer] {
            entry.failures = 0
            entry.dialing = false
            persistent[peer] = entry
        }
        log(.info, "peer connected", [("peer", peer.hex), ("address", connection.remote), ("direction", connection.direction.rawValue)])
        if let snapshot = connection.snapshot { delegate?.transportConnected(snapshot) }
    }

    private func close(_ connection: Connection, _ reason: DropReason, notify: Bool = true) {
        guard !connection.isClosed else { return }
        connection.close()
        connections[connection.descriptor] = nil
        let peer = connection.session.peerID
        let wasRegistered = peer.map { id in
            shared.withLock { shared in
                guard shared.peers[id] === connection else { return false }
                shared.peers[id] = nil
                return true
            }
        } ?? false
        if wasRegistered, let peer {
            metrics.dropped(reason.label)
            log(reason == .shutdown ? .debug : .info, "peer disconnected",
                [("peer", peer.hex), ("address", connection.remote), ("reason", reason.description)])
            if notify { delegate?.transportDisconnected(peer, reason: reason) }
        } else if !connection.session.isEstablished {
            if case let .handshake(error) = reason { metrics.handshakeFailed(error.reason) } else if !connection.isConnecting {
                metrics.handshakeFailed(reason.label)
            }
            log(.info, "connection failed", [("address", connection.remote), ("reason", reason.description)])
            if let dialed = connection.dialed { delegate?.transportDialFailed(dialed) }
        } else {
            // Established but never registered: a duplicate, or a peer that broke a rule in the
            // same read as its handshake's end, before registration.
            metrics.dropped(reason.label)
            log(reason == .duplicateConnection || reason == .shutdown ? .debug : .info, "connection dropped",
                [("peer", peer?.hex ?? "unknown"), ("address", connection.remote), ("reason", reason.description)])
        }
        if let id = connection.dialed?.id ?? peer, persistent[id] != nil, shared.withLock({ $0.peers[id] == nil }) {
            scheduleRedial(id)
        }
    }

    // MARK: Timers

    private func checkTimers(now: UInt64) {
        for connection in Array(connections.values) where !connection.isClosed {
            if !connection.session.isEstablished {
                if now - connection.openedAtMs > UInt64(config.handshakeTimeoutMs) {
                    close(connection, .handshake(.timeout))
                }
                continue
            }
            if now - connection.lastReceivedMs > UInt64(config.peerTimeoutMs) {
                close(connection, .timeout)
            } else if let stalled = connection.stalledSinceMs, now - stalled > UInt64(config.writeStallTimeoutMs) {
                close(connection, .writeStall)
            } else if now - connection.lastSentMs >= UInt64(config.pingIntervalMs) {
                connection.session.enqueueControl(.ping(UInt64.random(in: 0...UInt64.max, using: &random)))
                connection.sent(nowMs: now)
            }
        }
        let connected = shared.withLock { Set($0.peers.keys) }
        for (peer, entry) in persistent where !entry.dialing && !connected.contains(peer) && now >= entry.nextDialMs && !isBanned(peer) {
            persistent[peer]!.nextDialMs = now + UInt64(config.handshakeTimeoutMs)
            startDial(entry.address)
        }
    }

    static func monotonicMs() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
    public static func wallMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
