import Foundation
import Synchronization

/// One socket and its session, owned by the transport's I/O thread.
final class Connection: @unchecked Sendable {
    let descriptor: Int32
    let direction: PeerSnapshot.Direction
    /// The remote socket address, `host:port` (`[v6]:port` for IPv6).
    let remote: String
    /// The remote host alone, numeric.
    let remoteHost: String
    /// Whether the remote host is on the loopback interface (local peers: never limited or banned by host).
    let remoteIsLoopback: Bool
    let dialed: PeerAddress?
    let session: PeerSession
    let openedAtMs: UInt64
    private(set) var isConnecting: Bool
    private(set) var isClosed = false
    private(set) var lastReceivedMs: UInt64
    private(set) var lastSentMs: UInt64
    /// When a write last found the socket full with bytes still waiting; nil while writes flow.
    var stalledSinceMs: UInt64?
    private let connectedAtMs = Atomic<UInt64>(0)
    private var tokens = 0.0
    private var tokensAtMs: UInt64

    init(descriptor: Int32, direction: PeerSnapshot.Direction, remote: Sockets.Address, dialed: PeerAddress?, session: PeerSession, nowMs: UInt64,
         receiveBytesPerSecondMax: Int) {
        self.descriptor = descriptor
        self.direction = direction
        self.remote = remote.description
        remoteHost = remote.host
        remoteIsLoopback = remote.isLoopback
        self.dialed = dialed
        self.session = session
        openedAtMs = nowMs
        isConnecting = direction == .outbound
        lastReceivedMs = nowMs
        lastSentMs = nowMs
        tokensAtMs = nowMs
        tokens = Double(receiveBytesPerSecondMax)
    }

    var hasQueuedMessages: Bool { session.isEstablished && !session.queue.withLock { $0.isEmpty } }

    func connected(nowMs: UInt64) {
        isConnecting = false
        lastReceivedMs = nowMs
    }

    func established(wallMs: UInt64) { connectedAtMs.store(wallMs, ordering: .relaxed) }
    func received(_ count: Int, nowMs: UInt64) {
        lastReceivedMs = nowMs
        tokens -= Double(count)
    }
    func sent(nowMs: UInt64) { lastSentMs = nowMs }

    func close() {
        isClosed = true
        Glibc.close(descriptor)
    }

    /// Whether to read now: within the rate limit (a token bucket of one second's bytes) and,
    /// once established, within the node's inbound budget.
    func mayRead(now: UInt64, inboundAllowed: Bool, rate: Int) -> Bool {
        if session.isEstablished && !inboundAllowed { return false }
        return readLimit(now: now, rate: rate, chunk: 1) > 0
    }

    func readLimit(now: UInt64, rate: Int, chunk: Int) -> Int {
        guard rate > 0 else { return chunk }
        tokens = min(Double(rate), tokens + Double(rate) * Double(now - tokensAtMs) / 1000)
        tokensAtMs = now
        return tokens >= 1 ? min(chunk, Int(tokens)) : 0
    }

    var snapshot: PeerSnapshot? {
        guard let id = session.peerID else { return nil }
        return PeerSnapshot(
            id: id, address: remote, direction: direction, connectedAtMs: connectedAtMs.load(ordering: .relaxed),
            bytesSent: session.bytesSent.load(ordering: .relaxed), bytesReceived: session.bytesReceived.load(ordering: .relaxed))
    }
}
