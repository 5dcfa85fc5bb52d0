import Foundation
import Inference
import Testing

@Suite struct SafetensorsParserTests {
    static func sample() -> SafetensorsBuilder {
        var builder = SafetensorsBuilder()
        let bfloats = (0..<6).flatMap { index -> [UInt8] in
            withUnsafeBytes(of: UInt16((Float(index) - 2.5).bitPattern >> 16).littleEndian) { Array($0) }
        }
        builder.tensors = [
            ("model.a", "F32", [2, 3], float32Bytes([1, 2, 3, -4, 5.5, 6])),
            ("model.b", "F16", [4], (0..<4).flatMap { halfBytes(Float16(Float($0) * 0.5)) }),
            ("model.c", "BF16", [3, 2], bfloats),
        ]
        return builder
    }

    @Test func readsTensors() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try SafetensorsFile(path: write(Self.sample().bytes(), named: "sample.safetensors", in: directory))
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.map(\.name) == ["model.a", "model.b", "model.c"])
        #expect(try #require(file.tensor("model.a")).shape == [2, 3])
        #expect(try #require(file.tensor("model.a")).floats() == [1, 2, 3, -4, 5.5, 6])
        #expect(try #require(file.tensor("model.b")).floats() == [0, 0.5, 1, 1.5])
        #expect(try #require(file.tensor("model.c")).floats() == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    }

    @Test func everyTruncationIsAnError() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = Self.sample().bytes()
        for length in 0..<bytes.count {
            let path = write(Array(bytes[0..<length]), named: "truncated-\(length).safetensors", in: directory)
            #expect(throws: ModelFileError.self, "prefix of \(length) bytes") { try SafetensorsFile(path: path) }
            try FileManager.default.removeItem(atPath: path)
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = Self.sample().bytes()
        var random = SplitMix64(seed: 0x7361_6665)
        var rejected = 0
        for round in 0..<2000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            let path = write(bytes, named: "corrupt-\(round).safetensors", in: directory)
            do {
                let file = try SafetensorsFile(path: path)
                for tensor in file.tensors { _ = tensor.floats() }
            } catch {
                rejected += 1
            }
            try FileManager.default.removeItem(atPath: path)
        }
        #expect(rejected > 500, "only \(rejected) of 2000 damaged files were rejected")
    }

    @Test func hostileHeadersAreNamedErrors() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func parse(header: String, data: [UInt8] = []) throws(ModelFileError) -> SafetensorsFile {
            var bytes: [UInt8] = []
            GGUFBuilder.append(UInt64(header.utf8.count), to: &bytes)
            return try SafetensorsFile(path: write(bytes + Array(header.utf8) + data, named: "hostile.safetensors", in: directory))
        }
        var huge: [UInt8] = []
        GGUFBuilder.append(UInt64.max, to: &huge)
        #expect(throws: ModelFileError.malformed("safetensors header of 18446744073709551615 bytes exceeds 104857600")) {
            try SafetensorsFile(path: write(huge, named: "huge.safetensors", in: directory))
        }
        #expect(throws: ModelFileError.self) { try parse(header: "{\"a\": ") }
        #expect(throws: ModelFileError.malformed("safetensors header is not a JSON object")) { try parse(header: "[1, 2]") }
        #expect(throws: ModelFileError.malformed("tensor a lacks dtype, shape or data_offsets")) { try parse(header: #"{"a": {"dtype": "F32"}}"#) }
        #expect(throws: ModelFileError.unsupported("tensor a has dtype I64 (supported: F32, F16, BF16)")) {
            try parse(header: #"{"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8))
        }
        #expect(throws: ModelFileError.malformed("tensor a has data_offsets outside the 4 data bytes")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, data: [0, 0, 0, 0])
        }
        #expect(throws: ModelFileError.malformed("tensor a: 4 bytes do not hold 2 F32 values")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        }
        #expect(throws: ModelFileError.malformed("tensor a has a bad dimension")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        }
        #expect(throws: ModelFileError.malformed("tensor a has a bad dimension")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        }
        #expect(throws: ModelFileError.malformed("safetensors header names a twice")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        }
        #expect(throws: ModelFileError.malformed("safetensors header is not JSON")) { try parse(header: #"{} {}"#) }
        #expect(throws: ModelFileError.malformed("__metadata__ must map strings to strings")) { try parse(header: #"{"__metadata__": {"format": 1}}"#) }
        #expect(try parse(header: "{\"__metadata__\": {\"format\": \"pt\"}}   \n").metadata == ["format": "pt"])
        #expect(throws: ModelFileError.malformed("tensor a is too large")) {
            try parse(header: #"{"a": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        }
    }
}
