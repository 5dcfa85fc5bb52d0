import Attribution
import Crypto
import Foundation
import Inference
import Testing

@Suite struct SpanIndexFileTests {
    static func temporaryPath(_ name: String) -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-spans-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(name).path
    }

    static let documents: [[Int32]] = [[5, 1, 2, 3, 4, 9], [1, 2, 3, 4, 8], [], [7, 7, 7, 7, 7, 7, 7]]

    /// A written index reads back (memory-mapped) with the same bytes and the same answers.
    @Test func roundTripsThroughAFile() throws {
        let built = try SpanIndex(documents: Self.documents)
        let path = Self.temporaryPath("spans.bin")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try built.write(to: path)
        let read = try SpanIndex(contentsOf: path)
        #expect(read.digest == built.digest)
        #expect(read.byteCount == built.byteCount)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == built.byteCount)
        #expect((0..<Self.documents.count).map(read.tokens(ofDocument:)) == Self.documents)
        let rules = SpanRules(minTokens: 2)
        let startsWord = [Bool](repeating: true, count: 10)
        let completion: [Int32] = [0, 1, 2, 3, 4, 9, 7, 7, 7, 6]
        let fromMemory = SpanMatcher(index: built, startsWord: startsWord, rules: rules).spans(of: completion, decode: { "\($0)" })
        let fromFile = SpanMatcher(index: read, startsWord: startsWord, rules: rules).spans(of: completion, decode: { "\($0)" })
        #expect(!fromFile.isEmpty)
        #expect(fromFile == fromMemory)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    /// Every kind of damage is an error naming what is wrong, never a crash.
    @Test func rejectsDamagedFiles() throws {
        let path = Self.temporaryPath("spans.bin")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try SpanIndex(documents: Self.documents).write(to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))

        func failure(reading bytes: Data) -> SpanIndexError? {
            try! bytes.write(to: URL(fileURLWithPath: path))
            do { _ = try SpanIndex(contentsOf: path) } catch { return error }
            return nil
        }
        /// Why reading `bytes` fails, when it fails as malformed.
        func malformedReason(_ bytes: Data) -> String {
            guard case let .malformed(_, reason)? = failure(reading: bytes) else { return "not malformed: \(String(describing: failure(reading: bytes)))" }
            return reason
        }
        /// `bytes` with the checksum recomputed, so the structural checks are what must catch it.
        func resealed(_ bytes: Data) -> Data {
            var bytes = bytes
            bytes.replaceSubrange(16..<48, with: Digest.blake2b(bytes[48...]).bytes)
            return bytes
        }
        func replacing(_ bytes: Data, at offset: Int, with value: UInt32) -> Data {
            var bytes = bytes
            bytes.replaceSubrange(offset..<(offset + 4), with: withUnsafeBytes(of: value.littleEndian, Array.init))
            return bytes
        }

        var flipped = good
        flipped[good.count - 3] ^= 0x40
        #expect(failure(reading: flipped) == .checksumMismatch(path: path))
        #expect(malformedReason(good.prefix(good.count - 4)).contains("do not describe a file of"))
        #expect(malformedReason(good.prefix(40)) == "40 bytes, shorter than the 72-byte header")
        #expect(malformedReason(Data()) == "the file is empty")
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(malformedReason(magic) == "not a span index (bad magic)")
        #expect(failure(reading: replacing(good, at: 8, with: 2)) == .unsupportedVersion(path: path, version: 2))
        #expect(malformedReason(resealed(replacing(good, at: 48, with: 9))).contains("do not describe a file of"))

        // 4 documents, 18 tokens: the stream (22 entries) starts at 92, the suffixes at the last 72 bytes.
        let stream = 72 + 4 * 5, suffixes = good.count - 4 * 18
        #expect(malformedReason(resealed(replacing(good, at: stream + 4, with: .max))) == "document 0 holds a separator at stream position 1")
        #expect(malformedReason(resealed(replacing(good, at: stream + 4 * 6, with: 3))) == "document 0 does not end with a separator")
        #expect(malformedReason(resealed(replacing(good, at: 72 + 4, with: 30))).contains("document 0 starts at 0 and ends at 30"))
        #expect(malformedReason(resealed(replacing(good, at: suffixes + 8, with: 1_000_000))) == "suffix 2 is at 1000000, not a token position")
        #expect(malformedReason(resealed(replacing(good, at: suffixes + 8, with: 6))) == "suffix 2 is at 6, not a token position")
        let firstSuffix = good[suffixes..<(suffixes + 4)].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        #expect(malformedReason(resealed(replacing(good, at: suffixes + 4, with: firstSuffix))) == "suffix 1 repeats position \(firstSuffix)")
        let lastSuffix = good[(good.count - 4)...].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        let swapped = replacing(replacing(good, at: suffixes, with: lastSuffix), at: good.count - 4, with: firstSuffix)
        #expect(malformedReason(resealed(swapped)) == "suffix 1 is out of order")

        let missing: SpanIndexError?
        do { _ = try SpanIndex(contentsOf: path + ".absent"); missing = nil } catch { missing = error }
        guard case .unreadable? = missing else {
            Issue.record("a missing file gives \(String(describing: missing)), not unreadable")
            return
        }
    }
}
