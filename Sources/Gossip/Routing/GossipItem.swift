import Crypto

/// A gossiped message as routing sees it: opaque signed bytes, the channel they travel on,
/// their id (the BLAKE2b-256 of the bytes) and their epoch. Whoever hands an item to the router
/// has checked its signature already.
///
/// The epoch says which peers can use the item now: a consensus message's is its height, and it
/// goes only to a peer whose reported epoch p (its last committed height) has p < epoch ≤ p + 2
/// (`Router.Limits.epochsAhead`); epoch 0 (transactions, envelopes) goes to every peer.
public struct GossipItem: Hashable, Sendable {
    public let id: Digest
    public let channel: Channel
    public let bytes: [UInt8]
    public let epoch: UInt64

    public init(channel: Channel, bytes: [UInt8], epoch: UInt64 = 0) {
        self.init(id: Digest.blake2b(bytes), channel: channel, bytes: bytes, epoch: epoch)
    }

    /// For bytes whose hash the caller already holds (a transaction's hash is its id).
    public init(id: Digest, channel: Channel, bytes: [UInt8], epoch: UInt64 = 0) {
        assert(id == Digest.blake2b(bytes), "gossip item id is not the hash of its bytes")
        self.id = id
        self.channel = channel
        self.bytes = bytes
        self.epoch = epoch
    }

    public static func == (a: GossipItem, b: GossipItem) -> Bool { a.id == b.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
