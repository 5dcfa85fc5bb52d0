/// Limits and timings of the TCP transport. Every size is in bytes and every time in
/// milliseconds, as their names say.
public struct TransportConfig: Sendable {
    /// The chain this node is on: peers of another chain are refused at the handshake.
    public var chainID: String
    /// Where to listen (`host:port`); nil for a node that only dials.
    public var listenAddress: String?
    /// The largest frame a peer may send (the length prefix; ciphertext with its tag). Messages
    /// larger than a frame travel in several, so channels interleave between frames.
    public var frameBytesMax = 65_536
    /// The largest message reassembled from frames on one channel.
    public var messageBytesMax = WireMessage.payloadBytesMax + 1_024
    /// Bytes waiting to be sent to one peer. Beyond it, transactions and envelopes to that peer
    /// are dropped (gossip offers them again); anything else disconnects the peer as too slow.
    public var sendQueueBytesMax = 64 << 20
    /// Bytes per second read from one peer; 0 for no limit. A peer over it is read more slowly.
    public var receiveBytesPerSecondMax = 0
    /// Bytes received and not yet taken by the node, all peers together; beyond it reading pauses.
    public var inboundPendingBytesMax = 128 << 20
    public var handshakeTimeoutMs = 5_000
    /// A ping goes out when nothing was sent for this long.
    public var pingIntervalMs = 2_000
    /// A peer from which nothing arrived for this long is dropped.
    public var peerTimeoutMs = 15_000
    /// A peer that accepts no bytes for this long while some wait for it is dropped.
    public var writeStallTimeoutMs = 10_000
    public var inboundPeersMax = 40
    /// Inbound connections from one remote host whose handshake has not finished. Every one
    /// holds an `inboundPeersMax` slot until it finishes or `handshakeTimeoutMs` passes, so
    /// without this one host could keep every slot taken. Loopback is exempt (local clusters).
    public var inboundHandshakesPerHostMax = 4
    public var outboundPeersMax = 10
    /// Redial delays of persistent peers: doubling from the first to the last, with jitter.
    public var dialBackoffFirstMs = 200
    public var dialBackoffLastMs = 5_000

    public init(chainID: String) { self.chainID = chainID }

    /// The largest packet payload a frame can carry.
    var packetDataMax: Int { frameBytesMax - FrameCipher.tagBytes - Packet.headerBytes }

    /// Checks the limits; returns what is wrong, or nil.
    public var defect: String? {
        if frameBytesMax < 1_024 || frameBytesMax > 16 << 20 { return "frame_bytes_max must be 1024...16777216" }
        if messageBytesMax < frameBytesMax { return "message_bytes_max must be at least frame_bytes_max" }
        if sendQueueBytesMax < messageBytesMax { return "send_queue_bytes_max must be at least message_bytes_max" }
        if receiveBytesPerSecondMax < 0 { return "receive_bytes_per_s_max must not be negative" }
        if inboundPendingBytesMax < messageBytesMax { return "inbound pending bytes must be at least message_bytes_max" }
        for (name, value) in [("handshake_timeout_ms", handshakeTimeoutMs), ("ping_interval_ms", pingIntervalMs),
                              ("peer_timeout_ms", peerTimeoutMs), ("write_stall_timeout_ms", writeStallTimeoutMs)]
        where !(1...3_600_000).contains(value) {
            return "\(name) must be 1...3600000"
        }
        if peerTimeoutMs <= pingIntervalMs { return "peer_timeout_ms must be longer than ping_interval_ms" }
        if inboundPeersMax < 0 || outboundPeersMax < 0 { return "peer limits must not be negative" }
        if inboundHandshakesPerHostMax < 1 { return "inbound_handshakes_per_host_max must be at least 1" }
        return nil
    }
}
