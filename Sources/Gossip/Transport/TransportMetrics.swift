import Synchronization

/// Cumulative counters of a transport, read by the node's `/metrics`.
public final class TransportMetrics: Sendable {
    public struct Traffic: Sendable, Equatable {
        /// Indexed by `Channel.rawValue`. Bytes are frame bytes on the wire, length prefix included.
        public var bytesSent = [UInt64](repeating: 0, count: Channel.allCases.count)
        public var bytesReceived = [UInt64](repeating: 0, count: Channel.allCases.count)
        public var framesSent = [UInt64](repeating: 0, count: Channel.allCases.count)
        public var framesReceived = [UInt64](repeating: 0, count: Channel.allCases.count)
        /// Handshake bytes (hellos and the first encrypted frames), both directions.
        public var handshakeBytesSent: UInt64 = 0
        public var handshakeBytesReceived: UInt64 = 0
    }

    private let traffic = Mutex(Traffic())
    private let handshakeFailures = Mutex<[String: UInt64]>([:])
    private let disconnects = Mutex<[String: UInt64]>([:])

    public init() {}

    public var snapshot: Traffic { traffic.withLock { $0 } }
    /// Failed handshakes by reason (`HandshakeError.reason`, or `inbound_full`).
    public var handshakeFailureCounts: [String: UInt64] { handshakeFailures.withLock { $0 } }
    /// Dropped connections by reason (`DropReason.label`).
    public var disconnectCounts: [String: UInt64] { disconnects.withLock { $0 } }

    func sent(_ channel: Channel, bytes: Int) {
        traffic.withLock {
            $0.bytesSent[Int(channel.rawValue)] += UInt64(bytes)
            $0.framesSent[Int(channel.rawValue)] += 1
        }
    }

    func received(_ channel: Channel, bytes: Int) {
        traffic.withLock {
            $0.bytesReceived[Int(channel.rawValue)] += UInt64(bytes)
            $0.framesReceived[Int(channel.rawValue)] += 1
        }
    }

    func handshake(sent: Int = 0, received: Int = 0) {
        traffic.withLock {
            $0.handshakeBytesSent += UInt64(sent)
            $0.handshakeBytesReceived += UInt64(received)
        }
    }

    func handshakeFailed(_ reason: String) { handshakeFailures.withLock { $0[reason, default: 0] += 1 } }
    func dropped(_ reason: String) { disconnects.withLock { $0[reason, default: 0] += 1 } }
}

/// A connected peer as the transport sees it.
public struct PeerSnapshot: Sendable {
    public enum Direction: String, Sendable { case inbound, outbound }

    public let id: NodeID
    /// The remote socket address.
    public let address: String
    public let direction: Direction
    /// When the handshake completed, unix milliseconds.
    public let connectedAtMs: UInt64
    public let bytesSent: UInt64
    public let bytesReceived: UInt64
}

/// Why the transport closed a connection. `label` is the metric label.
public enum DropReason: Error, Sendable, Equatable, CustomStringConvertible {
    case handshake(HandshakeError)
    case oversizeFrame(Int)
    case frameAuthentication
    case malformed(String)
    case messageTooLarge(Channel)
    case timeout
    case sendQueueFull(Channel)
    case writeStall
    case closedByPeer
    case socketError(String)
    case duplicateConnection
    case inboundFull
    /// The node dropped the peer (an invalid message, for instance).
    case byNode(String)
    /// The peer is banned (it misbehaved).
    case banned(String)
    case shutdown

    public var label: String {
        switch self {
        case let .handshake(error): "handshake_\(error.reason)"
        case .oversizeFrame: "oversize_frame"
        case .frameAuthentication: "frame_authentication"
        case .malformed: "malformed"
        case .messageTooLarge: "message_too_large"
        case .timeout: "timeout"
        case .sendQueueFull: "send_queue_full"
        case .writeStall: "write_stall"
        case .closedByPeer: "closed_by_peer"
        case .socketError: "socket_error"
        case .duplicateConnection: "duplicate_connection"
        case .inboundFull: "inbound_full"
        case .banned: "banned"
        case .byNode: "by_node"
        case .shutdown: "shutdown"
        }
    }

    public var description: String {
        switch self {
        case let .handshake(error): "handshake failed: \(error)"
        case let .oversizeFrame(length): "frame of \(length) bytes over frame_bytes_max"
        case .frameAuthentication: "a frame failed authentication"
        case let .malformed(what): "malformed: \(what)"
        case let .messageTooLarge(channel): "a \(channel) message over message_bytes_max"
        case .timeout: "nothing received within peer_timeout_ms"
        case let .sendQueueFull(channel): "its send queue is full (\(channel)): the peer reads too slowly"
        case .writeStall: "it accepted no bytes within write_stall_timeout_ms"
        case .closedByPeer: "closed by the peer"
        case let .socketError(what): "socket error: \(what)"
        case .duplicateConnection: "another connection to the same node is kept"
        case .inboundFull: "inbound_peers_max reached"
        case let .byNode(why): why
        case let .banned(why): "banned: \(why)"
        case .shutdown: "the node is stopping"
        }
    }
}
