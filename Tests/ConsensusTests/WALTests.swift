import Consensus
import Crypto
import Foundation
import Ledger
import Testing

@Suite final class WALTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    deinit { try? FileManager.default.removeItem(atPath: directory) }
    let key = SigningKey()

    func vote(round: UInt32, _ kind: Vote.Kind = .prevote) -> WALRecord {
        .vote(SignedVote(Vote(kind: kind, height: 7, round: round, blockHash: Digest.blake2b([UInt8(round)])), signedBy: key, chainID: "c"))
    }

    /// A log of height 7 holding this node's prevotes of rounds 0 and 1.
    func writeHeightSevenWithTwoVotes(to path: String) throws {
        let wal = try ConsensusWAL(path: path)
        try wal.startHeight(7)
        try wal.append(vote(round: 0))
        try wal.append(vote(round: 1))
    }

    /// Round 2 entered on other validators' precommits of round 1.
    let roundChange = WALRecord.roundChange(round: 2, votes: (0..<3).map { _ in
        SignedVote(Vote(kind: .precommit, height: 7, round: 1, blockHash: nil), signedBy: SigningKey(), chainID: "c")
    })

    @Test func recordsSurviveReopening() throws {
        let path = directory + "/a.wal"
        do {
            let wal = try ConsensusWAL(path: path)
            try wal.startHeight(7)
            try wal.append(vote(round: 0))
            try wal.append(vote(round: 1, .precommit))
            try wal.append(roundChange)
        }
        let reopened = try ConsensusWAL(path: path)
        #expect(reopened.records == [.height(7), vote(round: 0), vote(round: 1, .precommit), roundChange])
        #expect(reopened.repairedTail == 0)
        try reopened.startHeight(8)
        #expect(try ConsensusWAL(path: path).records == [.height(8)])
    }

    @Test func aTornFinalRecordIsCutOff() throws {
        let path = directory + "/b.wal"
        try writeHeightSevenWithTwoVotes(to: path)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        // Every cut inside the last record: header only, part of the payload, a bad checksum at the end.
        let lastRecordStart = full.count - (ConsensusWALFrame.size(of: vote(round: 1)))
        for cut in [lastRecordStart + 3, lastRecordStart + 12, full.count - 1] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let wal = try ConsensusWAL(path: path)
            #expect(wal.records == [.height(7), vote(round: 0)])
            #expect(wal.repairedTail == cut - lastRecordStart)
            // The cut tail is gone from the file, and appending works again.
            try wal.append(vote(round: 2))
            #expect(try ConsensusWAL(path: path).records == [.height(7), vote(round: 0), vote(round: 2)])
        }
        var corruptedEnd = full
        corruptedEnd[corruptedEnd.count - 1] ^= 0xff
        try corruptedEnd.write(to: URL(fileURLWithPath: path))
        #expect(try ConsensusWAL(path: path).records == [.height(7), vote(round: 0)])
    }

    /// A crash while the file header was first written leaves part of it: the log starts over
    /// (nothing can have been signed), where another short file is still refused.
    @Test func aTornFileHeaderStartsTheLogOver() throws {
        let path = directory + "/torn-header.wal"
        try Data("TRBW".utf8).write(to: URL(fileURLWithPath: path))
        let wal = try ConsensusWAL(path: path)
        #expect(wal.records.isEmpty)
        try wal.startHeight(3)
        #expect(try ConsensusWAL(path: path).records == [.height(3)])
        let other = directory + "/not-a-wal.wal"
        try Data("XRBW".utf8).write(to: URL(fileURLWithPath: other))
        #expect(throws: WALError.self) { try ConsensusWAL(path: other) }
    }

    @Test func aCorruptedMiddleIsALoudError() throws {
        let path = directory + "/c.wal"
        try writeHeightSevenWithTwoVotes(to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[ConsensusWALFrame.fileHeaderBytes + ConsensusWALFrame.size(of: .height(7)) + 20] ^= 0x01  // inside the second record
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: WALError.self) { try ConsensusWAL(path: path) }
        #expect(error?.description.contains("corrupt at byte") == true)
        // Nothing was cut: the operator sees the file as it was.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }
}

extension WALTests {
    /// A flipped bit in a middle frame's length made it run past the end of the file, and the
    /// rest was cut as a torn tail: the validator forgot what it signed after that frame.
    @Test func aDamagedLengthInTheMiddleIsALoudError() throws {
        let path = directory + "/d.wal"
        try writeHeightSevenWithTwoVotes(to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[ConsensusWALFrame.fileHeaderBytes + ConsensusWALFrame.size(of: .height(7))] ^= 0x40  // the second frame's length
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: WALError.self) { try ConsensusWAL(path: path) }
        #expect(error?.description.contains("corrupt at byte") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }
}

/// Frame arithmetic for the tests: the file starts with an 8-byte header; a frame is a 16-byte
/// header and the record.
enum ConsensusWALFrame {
    static let fileHeaderBytes = 8
    static func size(of record: WALRecord) -> Int { 16 + record.canonicalBytes.count }
}
