/// The plaintext of one frame: `u8` channel, `u8` flags (bit 0: the last packet of a message),
/// then a piece of a message. A message larger than a frame is cut into several packets of its
/// channel; packets of different channels interleave, so a large block never holds up a vote
/// for longer than one frame.
enum Packet {
    static let headerBytes = 2
    static let lastFlag: UInt8 = 1
}

/// Reassembles messages from packets, one buffer per channel, each bounded.
struct PacketAssembler {
    let messageBytesMax: Int
    private var partial: [[UInt8]] = Array(repeating: [], count: Channel.allCases.count)

    init(messageBytesMax: Int) { self.messageBytesMax = messageBytesMax }

    /// Adds one packet; returns the channel and bytes of a message it completes.
    mutating func add(_ packet: [UInt8]) throws(PacketError) -> (Channel, [UInt8])? {
        guard packet.count >= Packet.headerBytes else { throw .malformed("packet of \(packet.count) bytes") }
        guard let channel = Channel(rawValue: packet[0]) else { throw .malformed("unknown channel \(packet[0])") }
        let flags = packet[1]
        guard flags & ~Packet.lastFlag == 0 else { throw .malformed("unknown packet flags \(flags)") }
        let index = Int(channel.rawValue)
        guard partial[index].count + packet.count - Packet.headerBytes <= messageBytesMax else {
            throw .messageTooLarge(channel)
        }
        partial[index].append(contentsOf: packet[Packet.headerBytes...])
        guard flags & Packet.lastFlag != 0 else { return nil }
        defer { partial[index] = [] }
        return (channel, partial[index])
    }
}

enum PacketError: Error {
    case malformed(String)
    case messageTooLarge(Channel)
}
