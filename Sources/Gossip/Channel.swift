/// The logical streams multiplexed on one peer connection. When several have data to send,
/// the one with the lowest raw value goes first: keepalives, then consensus, then blocks, then
/// transactions, then other envelopes — so a flood of transactions never delays a vote by more
/// than one frame.
public enum Channel: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Keepalive pings and pongs, answered by the transport itself.
    case control = 0
    /// Proposals and votes.
    case consensus = 1
    /// Committed blocks asked for by nodes that are behind, and height reports.
    case blocks = 2
    /// Signed transactions on their way to every mempool.
    case transactions = 3
    /// Anything else a node originates, in envelopes signed by its node key.
    case envelopes = 4

    public static func < (a: Channel, b: Channel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .control: "control"
        case .consensus: "consensus"
        case .blocks: "blocks"
        case .transactions: "transactions"
        case .envelopes: "envelopes"
        }
    }

    /// Whether, when a peer's send queue for this channel is full, a message may be dropped
    /// (gossip re-sends it later) instead of the peer being disconnected.
    public var dropsWhenFull: Bool { self == .transactions || self == .envelopes }
}
