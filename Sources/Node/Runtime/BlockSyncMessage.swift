import Crypto
import Ledger

/// Point-to-point messages on the blocks channel (`WireMessage.direct`): how a node that is
/// behind — restarted, or cut off for a while — fetches the committed blocks it lacks.
/// Each block carries its commit certificate, which the engine checks against the validator
/// set of its height before executing it.
enum BlockSyncMessage: Hashable, Sendable, CanonicalCodable {
    /// The sender's last committed height; sent to each peer that connects and after each commit
    /// (peers then send it the consensus messages of the next two heights).
    case status(height: UInt64)
    /// Asks for committed blocks from `fromHeight` on, at most `countMax`.
    case request(fromHeight: UInt64, countMax: UInt32)
    /// Consecutive committed blocks from the requested height (possibly none), and the sender's
    /// last committed height.
    case blocks([Block], height: UInt64)

    /// Blocks asked for at once.
    static let countMax: UInt32 = 32
    /// Bytes of blocks in one answer (at least one block is sent, whatever its size).
    static let answerBytesMax = 4 << 20

    func encode(to writer: inout CanonicalWriter) {
        switch self {
        case let .status(height): writer.write(UInt8(1)); writer.write(height)
        case let .request(fromHeight, countMax): writer.write(UInt8(2)); writer.write(fromHeight); writer.write(countMax)
        case let .blocks(blocks, height):
            writer.write(UInt8(3)); writer.write(array: blocks, max: Int(Self.countMax)); writer.write(height)
        }
    }

    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .status(height: try reader.readUInt64())
        case 2: self = .request(fromHeight: try reader.readUInt64(), countMax: try reader.readUInt32())
        case 3: self = .blocks(try reader.readArray(max: Int(Self.countMax), field: "blocks"), height: try reader.readUInt64())
        case let tag: throw .unknownTag(type: "block sync message", tag: tag)
        }
    }
}
