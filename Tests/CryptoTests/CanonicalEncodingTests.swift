import Crypto
import Testing

/// A value exercising every field kind of the encoding.
struct Sample: CanonicalCodable, Equatable {
    var flag: Bool
    var small: UInt16
    var count: UInt64
    var name: String
    var blob: [UInt8]
    var digest: Digest
    var maybe: Digest?
    var list: [Digest]

    func encode(to writer: inout CanonicalWriter) {
        writer.write(flag)
        writer.write(small)
        writer.write(count)
        writer.write(string: name, max: 16)
        writer.write(bytes: blob, max: 8)
        writer.write(digest)
        writer.write(optional: maybe)
        writer.write(array: list, max: 3)
    }

    init(flag: Bool, small: UInt16, count: UInt64, name: String, blob: [UInt8], digest: Digest, maybe: Digest?, list: [Digest]) {
        (self.flag, self.small, self.count, self.name, self.blob, self.digest, self.maybe, self.list) =
            (flag, small, count, name, blob, digest, maybe, list)
    }

    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        flag = try reader.readBool()
        small = try reader.readUInt16()
        count = try reader.readUInt64()
        name = try reader.readString(max: 16, field: "name")
        blob = try reader.readBytes(max: 8, field: "blob")
        digest = try reader.readDigest()
        maybe = try reader.readOptional()
        list = try reader.readArray(max: 3, field: "list")
    }
}

@Suite struct CanonicalEncodingTests {
    let sample = Sample(
        flag: true, small: 0x0102, count: 0x0102_0304_0506_0708, name: "naïve", blob: [9, 8, 7],
        digest: Digest.blake2b([1]), maybe: Digest.blake2b([2]), list: [Digest.blake2b([3]), Digest.blake2b([4])])

    @Test func roundTrips() throws {
        #expect(try Sample(canonicalBytes: sample.canonicalBytes) == sample)
        var empty = sample
        empty.maybe = nil
        empty.list = []
        empty.name = ""
        #expect(try Sample(canonicalBytes: empty.canonicalBytes) == empty)
    }

    @Test func integersAreBigEndianFixedWidth() {
        var writer = CanonicalWriter()
        writer.write(UInt16(0x0102))
        writer.write(UInt32(1))
        writer.write(UInt64(0x0a0b))
        #expect(writer.bytes == [1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b])
    }

    @Test func rejectsEveryTruncation() {
        let bytes = sample.canonicalBytes
        for length in 0..<bytes.count {
            #expect(throws: CanonicalDecodingError.self) { try Sample(canonicalBytes: bytes.prefix(length)) }
        }
    }

    @Test func rejectsTrailingBytes() {
        #expect(throws: CanonicalDecodingError.trailingBytes(count: 1)) { try Sample(canonicalBytes: sample.canonicalBytes + [0]) }
    }

    @Test func rejectsNonCanonicalBooleansAndOptionals() {
        var bytes = sample.canonicalBytes
        bytes[0] = 2
        #expect(throws: CanonicalDecodingError.nonCanonical("boolean byte 2")) { try Sample(canonicalBytes: bytes) }
        bytes = sample.canonicalBytes
        let optionalTagOffset = 1 + 2 + 8 + (4 + "naïve".utf8.count) + (4 + 3) + 32
        #expect(bytes[optionalTagOffset] == 1)
        bytes[optionalTagOffset] = 7
        #expect(throws: CanonicalDecodingError.nonCanonical("optional tag 7")) { try Sample(canonicalBytes: bytes) }
    }

    @Test func rejectsOversizeFieldsBeforeReadingThem() {
        var bytes = sample.canonicalBytes
        // Claim a 4 GiB name: must fail on the bound, not try to allocate or read.
        bytes.replaceSubrange(11..<15, with: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: CanonicalDecodingError.oversize(field: "name", length: 0xffff_ffff, max: 16)) {
            try Sample(canonicalBytes: bytes)
        }
    }

    @Test func rejectsOversizeInput() {
        #expect(throws: CanonicalDecodingError.self) { try Sample(canonicalBytes: sample.canonicalBytes, maxBytes: 10) }
    }

    @Test func rejectsInvalidUTF8() {
        var bytes = sample.canonicalBytes
        bytes[15] = 0xff
        #expect(throws: CanonicalDecodingError.invalidUTF8(field: "name")) { try Sample(canonicalBytes: bytes) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? Sample(canonicalBytes: bytes)
        }
    }
}
