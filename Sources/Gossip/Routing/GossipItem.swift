import Crypto

/// A gossiped message as routing sees it: opaque signed bytes, the channel they travel on, and
/// their id, the BLAKE2b-256 of the bytes. Whoever hands an item to the router has checked its
/// signature already.
public struct GossipItem: Hashable, Sendable {
    public let id: Digest
    public let channel: Channel
    public let bytes: [UInt8]

    public init(channel: Channel, bytes: [UInt8]) {
        self.init(id: Digest.blake2b(bytes), channel: channel, bytes: bytes)
    }

    /// For bytes whose hash the caller already holds (a transaction's hash is its id).
    public init(id: Digest, channel: Channel, bytes: [UInt8]) {
        assert(id == Digest.blake2b(bytes), "gossip item id is not the hash of its bytes")
        self.id = id
        self.channel = channel
        self.bytes = bytes
    }

    public static func == (a: GossipItem, b: GossipItem) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
