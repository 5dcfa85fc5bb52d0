import Gossip

/// The peer-to-peer part of `GET /metrics`, in the Prometheus text format.
enum NetworkMetrics {
    static func render(_ gossip: GossipService) -> String {
        let traffic = gossip.transport.metrics.snapshot
        let values = gossip.counters.snapshot
        var text = "# HELP tributary_p2p_peers Connected peers.\n# TYPE tributary_p2p_peers gauge\n"
        text += "tributary_p2p_peers \(gossip.transport.peerCount)\n"
        text += family("tributary_p2p_bytes_total", "Frame bytes on the wire by channel and direction.", Channel.allCases.flatMap { channel in
            [("channel=\"\(channel)\",direction=\"sent\"", traffic.bytesSent[Int(channel.rawValue)]),
             ("channel=\"\(channel)\",direction=\"received\"", traffic.bytesReceived[Int(channel.rawValue)])]
        } + [("channel=\"handshake\",direction=\"sent\"", traffic.handshakeBytesSent),
             ("channel=\"handshake\",direction=\"received\"", traffic.handshakeBytesReceived)])
        text += family("tributary_p2p_frames_total", "Frames by channel and direction.", Channel.allCases.flatMap { channel in
            [("channel=\"\(channel)\",direction=\"sent\"", traffic.framesSent[Int(channel.rawValue)]),
             ("channel=\"\(channel)\",direction=\"received\"", traffic.framesReceived[Int(channel.rawValue)])]
        })
        text += family("tributary_p2p_items_received_total", "Gossiped messages that arrived, every copy, by channel.",
                       gossiped.map { ("channel=\"\($0)\"", values.itemsReceived[Int($0.rawValue)]) })
        text += family("tributary_p2p_items_accepted_total", "Gossiped messages that arrived new and valid, by channel.",
                       gossiped.map { ("channel=\"\($0)\"", values.itemsAccepted[Int($0.rawValue)]) })
        text += family("tributary_p2p_messages_published_total", "Messages originated here sent to peers (one count per peer).",
                       [("", values.router.published)])
        text += family("tributary_p2p_messages_relayed_total", "Messages from elsewhere sent to peers (one count per peer).",
                       [("", values.router.relayed)])
        text += family("tributary_p2p_duplicates_dropped_total", "Copies of messages already handled that arrived again.",
                       [("", values.router.duplicates)])
        text += family("tributary_p2p_announced_total", "Message ids announced to peers.", [("", values.router.announced)])
        text += family("tributary_p2p_requested_total", "Message ids requested from peers.", [("", values.router.requested)])
        text += family("tributary_p2p_invalid_messages_total", "Invalid messages by reason (the sender is dropped).",
                       values.invalid.sorted { $0.key < $1.key }.map { ("reason=\"\($0.key)\"", $0.value) })
        text += family("tributary_p2p_peers_banned_total", "Peers banned for a score below the threshold (bad blocks, floods, invalid messages).",
                       [("", values.peersBanned)])
        text += "# HELP tributary_p2p_peers_banned Peers banned now.\n# TYPE tributary_p2p_peers_banned gauge\n"
        text += "tributary_p2p_peers_banned \(gossip.transport.bannedCount)\n"
        text += family("tributary_p2p_handshake_failures_total", "Failed handshakes by reason.",
                       gossip.transport.metrics.handshakeFailureCounts.sorted { $0.key < $1.key }.map { ("reason=\"\($0.key)\"", $0.value) })
        text += family("tributary_p2p_disconnects_total", "Dropped peer connections by reason.",
                       gossip.transport.metrics.disconnectCounts.sorted { $0.key < $1.key }.map { ("reason=\"\($0.key)\"", $0.value) })
        return text
    }

    private static let gossiped: [Channel] = [.consensus, .transactions, .envelopes]

    private static func family(_ name: String, _ help: String, _ samples: [(labels: String, value: UInt64)]) -> String {
        var text = "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (labels, value) in samples { text += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n" }
        return text
    }
}
