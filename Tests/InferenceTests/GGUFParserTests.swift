import Foundation
import Inference
import Testing

@Suite struct GGUFParserTests {
    /// A small file with every metadata kind and one tensor of each supported type.
    static func sample() -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.metadata = [
            ("general.architecture", .string("llama")),
            ("test.count", .u32(7)),
            ("test.offset", .i32(-3)),
            ("test.scale", .f32(0.5)),
            ("test.flag", .bool(true)),
            ("test.words", .array(type: 8, [.string("a"), .string("ĠB"), .string("東京")])),
            ("test.numbers", .array(type: 5, [.i32(1), .i32(-2), .i32(3)])),
        ]
        var q8: [UInt8] = []
        for row in 0..<2 {
            q8 += halfBytes(Float16(0.5 + Float(row)))
            q8 += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        }
        let q41 = halfBytes(0.25) + halfBytes(-1.5) + (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let q40 = halfBytes(0.125) + (0..<16).map { UInt8($0 | (($0 * 3 % 16) << 4)) }
        let halves = (0..<32).flatMap { halfBytes(Float16(Float($0) * 0.75 - 9)) }
        let bfloats = (0..<32).flatMap { index -> [UInt8] in
            let bits = UInt16((Float(index) * -1.25 + 3).bitPattern >> 16)
            return withUnsafeBytes(of: bits.littleEndian) { Array($0) }
        }
        builder.tensors = [
            .init(name: "f32", dimensions: [32, 2], type: 0, data: float32Bytes((0..<64).map { Float($0) / 8 - 3 })),
            .init(name: "q8_0", dimensions: [32, 2], type: 8, data: q8),
            .init(name: "q4_1", dimensions: [32, 1], type: 3, data: q41),
            .init(name: "q4_0", dimensions: [32, 1], type: 2, data: q40),
            .init(name: "f16", dimensions: [32, 1], type: 1, data: halves),
            .init(name: "bf16", dimensions: [32, 1], type: 30, data: bfloats),
            // Three blocks per row: the engine pairs blocks, so rows end with a half pair.
            .init(name: "q4_1_wide", dimensions: [96, 2], type: 3, data: wideBlocks(minimum: true)),
            .init(name: "q4_0_wide", dimensions: [96, 2], type: 2, data: wideBlocks(minimum: false)),
        ]
        return builder
    }

    /// Six Q4 blocks with distinct scales and values.
    static func wideBlocks(minimum: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        for block in 0..<6 {
            bytes += halfBytes(Float16(0.1 * Float(block + 1)))
            if minimum { bytes += halfBytes(Float16(-0.3 * Float(block))) }
            for j in 0..<16 { bytes.append(UInt8((7 * j + 13 * block) % 256)) }
        }
        return bytes
    }

    @Test func readsMetadataAndTensors() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile(path: write(Self.sample().bytes(), named: "sample.gguf", in: directory))
        #expect(file.version == 3)
        #expect(try file.metadata.string("general.architecture") == "llama")
        #expect(try file.metadata.integer("test.count") == 7)
        #expect(file.metadata["test.offset"] == .signed(-3))
        #expect(try file.metadata.number("test.scale") == 0.5)
        #expect(file.metadata["test.flag"]?.bool == true)
        #expect(try file.metadata.stringArray("test.words") == ["a", "ĠB", "東京"])
        #expect(try file.metadata.integerArray("test.numbers") == [1, -2, 3])
        #expect(file.tensors.map(\.name) == ["f32", "q8_0", "q4_1", "q4_0", "f16", "bf16", "q4_1_wide", "q4_0_wide"])
        #expect(file.tensor("q8_0")?.shape == [2, 32])
        #expect(throws: ModelFileError.missing("GGUF metadata key absent")) { try file.metadata.string("absent") }
    }

    /// Each encoding decoded by its definition, written out independently here.
    @Test func dequantizesEveryTypeExactly() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile(path: write(Self.sample().bytes(), named: "sample.gguf", in: directory))
        #expect(try #require(file.tensor("f32")).floats() == (0..<64).map { Float($0) / 8 - 3 })
        var q8: [Float] = []
        for row in 0..<2 {
            let scale = Float(Float16(0.5 + Float(row)))
            for j in 0..<32 { q8.append(Float(j - 16) * scale) }
        }
        #expect(try #require(file.tensor("q8_0")).floats() == q8)
        let q41 = (0..<32).map { j -> Float in
            let nibble = j < 16 ? j : 15 - (j - 16)
            return Float(nibble) * 0.25 + -1.5
        }
        #expect(try #require(file.tensor("q4_1")).floats() == q41)
        let q40 = (0..<32).map { j -> Float in
            let nibble: Int = j < 16 ? j : (j - 16) * 3 % 16
            return Float(nibble - 8) * 0.125
        }
        #expect(try #require(file.tensor("q4_0")).floats() == q40)
        #expect(try #require(file.tensor("f16")).floats() == (0..<32).map { Float(Float16(Float($0) * 0.75 - 9)) })
        #expect(try #require(file.tensor("bf16")).floats() == (0..<32).map { Float($0) * -1.25 + 3 })
    }

    /// The SIMD decoders used by the matrix kernels produce the same weights as the
    /// scalar definition, bit for bit.
    @Test func kernelRowsEqualTheDefinition() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try GGUFFile(path: write(Self.sample().bytes(), named: "sample.gguf", in: directory))
        for tensor in file.tensors {
            let matrix = try WeightMatrix(tensor)
            let all = tensor.floats()
            for row in 0..<matrix.rows {
                #expect(matrix.row(row) == Array(all[(row * matrix.columns)..<((row + 1) * matrix.columns)]), "\(tensor.name) row \(row)")
            }
        }
    }

    @Test func everyTruncationIsAnError() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = Self.sample().bytes()
        for length in 0..<bytes.count {
            let path = write(Array(bytes[0..<length]), named: "truncated-\(length).gguf", in: directory)
            #expect(throws: ModelFileError.self, "prefix of \(length) bytes") { try GGUFFile(path: path) }
            try FileManager.default.removeItem(atPath: path)
        }
    }

    /// Random byte damage must end in a parse error or a file whose every tensor can be read.
    @Test func randomCorruptionNeverCrashes() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = Self.sample().bytes()
        var random = SplitMix64(seed: 0x6767_7566)
        var rejected = 0
        for round in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                // Most damage lands in the header, where the parser's decisions are.
                let limit = Bool.random(using: &random) ? 600 : bytes.count
                bytes[Int.random(in: 0..<limit, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            let path = write(bytes, named: "corrupt-\(round).gguf", in: directory)
            do {
                let file = try GGUFFile(path: path)
                for tensor in file.tensors { _ = tensor.floats() }
            } catch {
                rejected += 1
            }
            try FileManager.default.removeItem(atPath: path)
        }
        #expect(rejected > 1000, "only \(rejected) of 3000 damaged files were rejected")
    }

    @Test func hostileHeadersAreNamedErrors() throws {
        let directory = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func parse(_ bytes: [UInt8]) throws(ModelFileError) -> GGUFFile {
            try GGUFFile(path: write(bytes, named: "hostile.gguf", in: directory))
        }
        var header = Array("GGUF".utf8)
        GGUFBuilder.append(UInt32(3), to: &header)

        #expect(throws: ModelFileError.malformed("not a GGUF file (bad magic)")) { try parse(Array("GGUX".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 16)) }
        #expect(throws: ModelFileError.unsupported("GGUF version 1 (only 2 and 3)")) { try parse(Array("GGUF".utf8) + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 16)) }

        var counts = header
        GGUFBuilder.append(UInt64.max, to: &counts)
        GGUFBuilder.append(UInt64(0), to: &counts)
        #expect(throws: ModelFileError.malformed("tensor count 18446744073709551615 exceeds the file")) { try parse(counts) }

        var longString = header
        GGUFBuilder.append(UInt64(0), to: &longString)
        GGUFBuilder.append(UInt64(1), to: &longString)
        GGUFBuilder.append(UInt64(1) << 62, to: &longString)
        longString += [UInt8](repeating: 65, count: 16)
        #expect(throws: ModelFileError.self) { try parse(longString) }

        var hugeArray = GGUFBuilder()
        hugeArray.metadata = [("big", .array(type: 4, [.u32(1)]))]
        var hugeBytes = hugeArray.bytes()
        // Magic, version and counts (24 bytes), key (8 + 3), value type (4), element type (4).
        let countOffset = 24 + 11 + 4 + 4
        hugeBytes.replaceSubrange(countOffset..<(countOffset + 8), with: withUnsafeBytes(of: UInt64(1) << 40) { Array($0) })
        #expect(throws: ModelFileError.malformed("big claims 1099511627776 array elements")) { try parse(hugeBytes) }

        var unknownType = GGUFBuilder()
        unknownType.tensors = [.init(name: "w", dimensions: [32], type: 12, data: [UInt8](repeating: 0, count: 144))]
        #expect(throws: ModelFileError.self) { try parse(unknownType.bytes()) }

        var overflow = GGUFBuilder()
        overflow.tensors = [.init(name: "w", dimensions: [1 << 31 - 1, 1 << 31 - 1, 1 << 31 - 1], type: 0, data: [0, 0, 0, 0])]
        #expect(throws: ModelFileError.malformed("tensor w is too large")) { try parse(overflow.bytes()) }

        var beyondEnd = GGUFBuilder()
        beyondEnd.tensors = [.init(name: "w", dimensions: [32, 4], type: 0, data: [UInt8](repeating: 0, count: 128))]
        #expect(throws: ModelFileError.self) { try parse(beyondEnd.bytes()) }

        var partialBlock = GGUFBuilder()
        partialBlock.tensors = [.init(name: "w", dimensions: [16], type: 8, data: [UInt8](repeating: 0, count: 34))]
        #expect(throws: ModelFileError.malformed("tensor w: rows of 16 are not whole Q8_0 blocks")) { try parse(partialBlock.bytes()) }

        var duplicate = GGUFBuilder()
        duplicate.metadata = [("k", .u32(1)), ("k", .u32(2))]
        #expect(throws: ModelFileError.malformed("duplicate metadata key k")) { try parse(duplicate.bytes()) }

        var badUTF8 = header
        GGUFBuilder.append(UInt64(0), to: &badUTF8)
        GGUFBuilder.append(UInt64(1), to: &badUTF8)
        GGUFBuilder.append(UInt64(2), to: &badUTF8)
        badUTF8 += [0xC3, 0x28] + [UInt8](repeating: 0, count: 16)
        #expect(throws: ModelFileError.malformed("metadata key is not valid UTF-8")) { try parse(badUTF8) }

        var misaligned = Self.sample()
        misaligned.metadata.append(("general.alignment", .u32(3)))
        #expect(throws: ModelFileError.malformed("general.alignment must be a power of two up to 1 MiB")) { try parse(misaligned.bytes()) }
    }
}
