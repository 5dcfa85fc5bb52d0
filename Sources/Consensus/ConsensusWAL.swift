import Crypto
import Foundation
import Ledger

/// A record of the consensus write-ahead log: what this node signed during the current height.
public enum WALRecord: Hashable, Sendable, CanonicalCodable {
    static let polkaVotesMax = ValidatorSet.maxMembers * VoteBook.valuesPerValidatorMax

    /// The height the log covers; the log is rewritten with only this record at each new height.
    case height(UInt64)
    /// A vote this node signed.
    case vote(SignedVote)
    /// A proposal this node signed.
    case proposal(SignedProposal)
    /// This node locked on `block` in `round`, justified by `polka`: more than 2/3 of the
    /// power prevoting for it. Written before the precommit; after a restart the lock is back
    /// and the polka can be shown to peers, who need it to accept the block again.
    case lock(round: UInt32, block: BlockCandidate, polka: [SignedVote])
    /// This node entered `round`, justified by `votes` it received: the precommits of the round
    /// before (a precommit timeout) or the votes of `round` itself (a round skip). Written before
    /// the new round's first message; after a restart the votes are counted and gossiped again,
    /// so peers still in the old round can follow even if their senders never repeat them.
    case roundChange(round: UInt32, votes: [SignedVote])

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case let .height(height): writer.write(UInt8(1)); writer.write(height)
        case let .vote(vote): writer.write(UInt8(2)); writer.write(vote)
        case let .proposal(proposal): writer.write(UInt8(3)); writer.write(proposal)
        case let .lock(round, block, polka):
            writer.write(UInt8(4)); writer.write(round); writer.write(block)
            writer.write(array: polka, max: Self.polkaVotesMax)
        case let .roundChange(round, votes):
            writer.write(UInt8(5)); writer.write(round)
            writer.write(array: votes, max: 2 * Self.polkaVotesMax)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .height(try reader.readUInt64())
        case 2: self = .vote(try reader.read())
        case 3: self = .proposal(try reader.read())
        case 4:
            self = .lock(round: try reader.readUInt32(), block: try reader.read(),
                         polka: try reader.readArray(max: Self.polkaVotesMax, field: "polka"))
        case 5: self = .roundChange(round: try reader.readUInt32(), votes: try reader.readArray(max: 2 * Self.polkaVotesMax, field: "votes"))
        case let tag: throw .unknownTag(type: "WAL record", tag: tag)
        }
    }
}

/// Why the consensus WAL cannot be used.
public struct WALError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The consensus write-ahead log: an append-only file of framed records, each fsynced before
/// the message it describes is sent. The file starts with the 8 bytes `TRBWAL02`; then frames:
/// `u32` big-endian payload length, the first 4 bytes of the BLAKE2b-256 of those length
/// bytes, the first 8 bytes of the BLAKE2b-256 of length and payload, the payload (a canonical
/// `WALRecord`).
///
/// A crash can tear only the last frame (appends are sequential and synced one by one): such
/// a tail is cut off on open and reported in `repairedTail`. Because the length has its own
/// checksum, a damaged length is told apart from a torn frame: any damage but a torn final
/// frame means the file was corrupted, and opening fails with the offset.
///
/// Not thread-safe: one consensus driver uses it at a time (a node hands it from one engine to
/// the next after the first stopped), hence `@unchecked Sendable`.
public final class ConsensusWAL: @unchecked Sendable {
    public static let recordMaxBytes = Block.maxBytes + (1 << 20)
    static let fileHeader: [UInt8] = Array("TRBWAL02".utf8)
    static let frameHeaderBytes = 16

    public let path: String
    public private(set) var records: [WALRecord] = []
    /// Bytes cut from a torn final frame when the log was opened (0 if none).
    public private(set) var repairedTail = 0
    private var descriptor: Int32

    /// Opens (creating if missing) the log at `path` and reads its records.
    public init(path: String) throws(WALError) {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WALError("cannot open consensus WAL \(path): \(String(cString: strerror(errno)))") }
        var bytes = try Self.readAll(descriptor, path: path)
        // A strict beginning of the header is a creation cut short: nothing was signed yet.
        if bytes.count < Self.fileHeader.count, Self.fileHeader.starts(with: bytes) {
            guard bytes.isEmpty || ftruncate(descriptor, 0) == 0 else {
                throw WALError("cannot reset the unfinished consensus WAL \(path): \(String(cString: strerror(errno)))")
            }
            guard Self.fileHeader.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == Self.fileHeader.count,
                  fsync(descriptor) == 0
            else { throw WALError("cannot write consensus WAL \(path): \(String(cString: strerror(errno)))") }
            bytes = Self.fileHeader
        }
        let (records, validBytes) = try Self.parse(bytes, path: path)
        self.records = records
        if validBytes < bytes.count {
            repairedTail = bytes.count - validBytes
            guard ftruncate(descriptor, off_t(validBytes)) == 0, fsync(descriptor) == 0 else {
                throw WALError("cannot cut the torn tail of \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { close(descriptor) }

    /// Appends `record` and syncs it to disk before returning.
    public func append(_ record: WALRecord) throws(WALError) {
        let frame = Self.frame(record)
        let written = frame.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == frame.count, fsync(descriptor) == 0 else {
            throw WALError("cannot append to consensus WAL \(path): \(String(cString: strerror(errno)))")
        }
        records.append(record)
    }

    /// Replaces the log, atomically, with one `.height(height)` record.
    public func startHeight(_ height: UInt64) throws(WALError) {
        let temporary = path + ".new"
        let frame = Self.fileHeader + Self.frame(.height(height))
        let file = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw WALError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = frame.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        let synced = fsync(file)
        close(file)
        guard written == frame.count, synced == 0, rename(temporary, path) == 0 else {
            throw WALError("cannot replace consensus WAL \(path): \(String(cString: strerror(errno)))")
        }
        let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY)
        if directory >= 0 { fsync(directory); close(directory) }
        close(descriptor)
        descriptor = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw WALError("cannot reopen consensus WAL \(path): \(String(cString: strerror(errno)))") }
        records = [.height(height)]
    }

    private static func readAll(_ descriptor: Int32, path: String) throws(WALError) -> [UInt8] {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw WALError("cannot stat consensus WAL \(path): \(String(cString: strerror(errno)))") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
            guard count > 0 else { throw WALError("cannot read consensus WAL \(path): \(String(cString: strerror(errno)))") }
            offset += count
        }
        return bytes
    }

    static func frame(_ record: WALRecord) -> [UInt8] {
        let payload = record.canonicalBytes
        precondition(payload.count <= recordMaxBytes, "WAL record over its maximum size")
        var writer = CanonicalWriter(reservingCapacity: payload.count + frameHeaderBytes)
        writer.write(UInt32(payload.count))
        let length = writer.bytes
        writer.write(raw: Digest.blake2b(length).bytes.prefix(4))
        writer.write(raw: Digest.blake2b(length + payload).bytes.prefix(8))
        writer.write(raw: payload)
        return writer.bytes
    }

    /// The records of a log file and how many leading bytes hold the file header and whole,
    /// intact frames.
    static func parse(_ bytes: [UInt8], path: String) throws(WALError) -> ([WALRecord], Int) {
        guard bytes.starts(with: fileHeader) else {
            throw WALError("consensus WAL \(path) does not start with \(String(decoding: fileHeader, as: UTF8.self)): it was written by an older version or is not a WAL; refusing to start (move the file away only if you are sure this validator did not sign at its height)")
        }
        var records: [WALRecord] = []
        var offset = fileHeader.count
        while offset < bytes.count {
            guard bytes.count - offset >= frameHeaderBytes else { break }  // torn header at the end
            let lengthBytes = Array(bytes[offset..<offset + 4])
            guard Digest.blake2b(lengthBytes).bytes.prefix(4).elementsEqual(bytes[offset + 4..<offset + 8]) else {
                throw WALError("consensus WAL \(path) is corrupt at byte \(offset): the frame length fails its checksum; refusing to start (move the file away only if you are sure this validator did not sign at this height)")
            }
            let length = lengthBytes.reduce(0) { $0 << 8 | Int($1) }
            guard length <= recordMaxBytes else {
                throw WALError("consensus WAL \(path) is corrupt at byte \(offset): frame length \(length) over the maximum")
            }
            let end = offset + frameHeaderBytes + length
            guard end <= bytes.count else { break }  // an intact length running past the end: the last frame was torn
            let payload = bytes[offset + frameHeaderBytes..<end]
            guard Digest.blake2b(lengthBytes + payload).bytes.prefix(8).elementsEqual(bytes[offset + 8..<offset + frameHeaderBytes]) else {
                if end == bytes.count { break }  // the last frame was torn while written
                throw WALError("consensus WAL \(path) is corrupt at byte \(offset): checksum mismatch with \(bytes.count - end) bytes after it; refusing to start (move the file away only if you are sure this validator did not sign at this height)")
            }
            do {
                records.append(try WALRecord(canonicalBytes: payload, maxBytes: recordMaxBytes))
            } catch {
                throw WALError("consensus WAL \(path) is corrupt at byte \(offset): \(error)")
            }
            offset = end
        }
        return (records, offset)
    }
}
