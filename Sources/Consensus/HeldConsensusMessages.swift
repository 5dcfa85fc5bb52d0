/// Consensus messages that arrive while no engine runs (in block sync, or between stopping
/// one engine and starting the next), kept for the next engine. Gossip marks every message it
/// hands on as handled, and its sender as delivered, so neither sends it again: a message
/// dropped here would be lost for good, and a node that leaves block sync at the height its
/// peers vote on would wait for votes it already received. Bounded: the oldest go first.
public struct HeldConsensusMessages: Sendable {
    /// At most this many messages, and this many bytes of them, are kept.
    public static let messagesMax = 4_096
    public static let bytesMax = 64 << 20

    private var messages: [(message: ConsensusMessage, bytes: Int)] = []
    private var oldest = 0
    public private(set) var bytes = 0

    public init() {}

    /// Messages held.
    public var count: Int { messages.count - oldest }

    /// Keeps `message`, whose encoding is `size` bytes; past the limits the oldest go (one
    /// larger than `bytesMax` is not kept).
    public mutating func add(_ message: ConsensusMessage, bytes size: Int) {
        guard size <= Self.bytesMax else { return }
        messages.append((message, size))
        bytes += size
        while count > Self.messagesMax || bytes > Self.bytesMax {
            bytes -= messages[oldest].bytes
            oldest += 1
        }
        if oldest > 1_024 && oldest * 2 > messages.count {
            messages.removeFirst(oldest)
            oldest = 0
        }
        assert(bytes >= 0 && count >= 0, "held messages' accounting went negative")
    }

    /// Every message held, oldest first, leaving none.
    public mutating func takeAll() -> [ConsensusMessage] {
        defer {
            messages = []
            oldest = 0
            bytes = 0
        }
        return messages[oldest...].map(\.message)
    }
}
