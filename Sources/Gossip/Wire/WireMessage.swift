import Crypto

/// What travels on a channel of a peer connection, once reassembled from its packets.
///
/// Encoding (canonical, see docs/encoding.md): a `u8` kind, then
/// - `ping`/`pong`: `u64` nonce;
/// - `items`: `u32` count, then each item as `u32` length and bytes — gossiped messages, each
///   the canonical bytes of a signed value (a `ConsensusMessage`, a `SignedTransaction`, a
///   `GossipEnvelope`); its id is the BLAKE2b-256 of those bytes;
/// - `announce`/`request`: `u32` count, then 32-byte message ids;
/// - `direct`: `u32` length and bytes, for the application, point to point (never relayed).
public enum WireMessage: Hashable, Sendable, CanonicalCodable {
    case ping(UInt64)
    case pong(UInt64)
    /// Gossiped messages, batched.
    case items([[UInt8]])
    /// "I have these": the sender holds these messages and can be asked for them.
    case announce([Digest])
    /// "Send me these": the sender lacks these messages, which the receiver announced.
    case request([Digest])
    /// A request or answer between two nodes (block requests, height reports).
    case direct([UInt8])

    /// Items per `items` message, and ids per `announce` or `request`.
    public static let entriesMax = 65_536
    /// The largest item or direct payload: a block of `Block.maxBytes` with room for its
    /// certificate and framing.
    public static let payloadBytesMax = 17 << 20

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case let .ping(nonce): writer.write(UInt8(1)); writer.write(nonce)
        case let .pong(nonce): writer.write(UInt8(2)); writer.write(nonce)
        case let .items(items):
            writer.write(UInt8(3))
            precondition(items.count <= Self.entriesMax, "too many items in one message")
            writer.write(UInt32(items.count))
            for item in items { writer.write(bytes: item, max: Self.payloadBytesMax) }
        case let .announce(ids): writer.write(UInt8(4)); writer.write(array: ids, max: Self.entriesMax)
        case let .request(ids): writer.write(UInt8(5)); writer.write(array: ids, max: Self.entriesMax)
        case let .direct(payload): writer.write(UInt8(6)); writer.write(bytes: payload, max: Self.payloadBytesMax)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .ping(try reader.readUInt64())
        case 2: self = .pong(try reader.readUInt64())
        case 3:
            let count = Int(try reader.readUInt32())
            guard count <= Self.entriesMax else { throw .oversize(field: "items", length: count, max: Self.entriesMax) }
            var items: [[UInt8]] = []
            items.reserveCapacity(min(count, reader.remaining / 4))
            for _ in 0..<count { items.append(try reader.readBytes(max: Self.payloadBytesMax, field: "item")) }
            self = .items(items)
        case 4: self = .announce(try reader.readArray(max: Self.entriesMax, field: "announced ids"))
        case 5: self = .request(try reader.readArray(max: Self.entriesMax, field: "requested ids"))
        case 6: self = .direct(try reader.readBytes(max: Self.payloadBytesMax, field: "direct payload"))
        case let tag: throw .unknownTag(type: "wire message", tag: tag)
        }
    }
}
