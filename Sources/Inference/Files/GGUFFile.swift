/// A GGUF file (versions 2 and 3) mapped read-only: its metadata and its tensor table,
/// with each tensor's bytes checked to lie inside the file's data section.
public final class GGUFFile: Sendable {
    /// Longest string accepted in metadata or tensor names, in bytes.
    public static let stringBytesMax = 16 << 20
    /// Most elements accepted in one metadata array.
    public static let arrayElementsMax = 1 << 24
    /// Deepest nesting of arrays inside arrays.
    public static let arrayDepthMax = 4
    /// Most dimensions of one tensor.
    public static let tensorDimensionsMax = 4

    /// The mapped bytes the tensors point into.
    public let file: MappedFile
    /// The format version (2 or 3).
    public let version: Int
    /// Every key-value pair of the header.
    public let metadata: GGUFMetadata
    /// Tensors in file order.
    public let tensors: [TensorData]
    private let tensorIndex: [String: Int]

    /// Opens and validates the GGUF file at `path`.
    public convenience init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses and validates an already mapped file.
    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        var cursor = ByteCursor(UnsafeRawBufferPointer(start: file.base, count: file.size))
        let magic = try cursor.read(UInt32.self, what: "GGUF magic")
        guard magic == 0x4655_4747 else { throw .malformed("not a GGUF file (bad magic)") }
        let version = Int(try cursor.read(UInt32.self, what: "GGUF version"))
        guard version == 2 || version == 3 else { throw .unsupported("GGUF version \(version) (only 2 and 3)") }
        self.version = version
        let tensorCount = try cursor.read(UInt64.self, what: "tensor count")
        let keyCount = try cursor.read(UInt64.self, what: "metadata count")
        // Each key-value pair takes at least 8 + 4 + 1 bytes, each tensor info at least 8 + 4 + 4 + 8.
        guard keyCount <= UInt64(cursor.remaining / 13) else { throw .malformed("metadata count \(keyCount) exceeds the file") }
        guard tensorCount <= UInt64(cursor.remaining / 24) else { throw .malformed("tensor count \(tensorCount) exceeds the file") }

        var values: [String: GGUFValue] = [:]
        for _ in 0..<Int(keyCount) {
            let key = try Self.readString(&cursor, what: "metadata key")
            let type = try cursor.read(UInt32.self, what: "metadata type of \(key)")
            let value = try Self.readValue(&cursor, type: type, depth: 0, key: key)
            guard values.updateValue(value, forKey: key) == nil else { throw .malformed("duplicate metadata key \(key)") }
        }
        self.metadata = GGUFMetadata(values: values)

        var alignment = 32
        if let value = values["general.alignment"] {
            guard let requested = value.integer, requested > 0, requested <= 1 << 20, requested & (requested - 1) == 0 else {
                throw .malformed("general.alignment must be a power of two up to 1 MiB")
            }
            alignment = requested
        }

        var infos: [(name: String, dimensions: [Int], type: TensorType, offset: Int, bytes: Int)] = []
        var index: [String: Int] = [:]
        for _ in 0..<Int(tensorCount) {
            let name = try Self.readString(&cursor, what: "tensor name")
            let dimensionCount = Int(try cursor.read(UInt32.self, what: "dimension count of \(name)"))
            guard (1...Self.tensorDimensionsMax).contains(dimensionCount) else {
                throw .malformed("tensor \(name) has \(dimensionCount) dimensions")
            }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<dimensionCount {
                let dimension = try cursor.read(UInt64.self, what: "dimension of \(name)")
                guard dimension >= 1, dimension <= UInt64(Int32.max) else { throw .malformed("tensor \(name) has dimension \(dimension)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dimension))
                guard !overflow else { throw .malformed("tensor \(name) is too large") }
                elements = product
                dimensions.append(Int(dimension))
            }
            let rawType = try cursor.read(UInt32.self, what: "type of \(name)")
            guard let type = TensorType(rawValue: rawType) else {
                throw .unsupported("tensor \(name) has type \(rawType) (supported: \(TensorType.allCases.map(\.description).joined(separator: ", ")))")
            }
            guard dimensions[0] % type.blockElements == 0, let bytes = type.byteCount(elements: elements) else {
                throw .malformed("tensor \(name): rows of \(dimensions[0]) are not whole \(type) blocks")
            }
            let offset = try cursor.read(UInt64.self, what: "offset of \(name)")
            guard offset <= UInt64(Int.max), Int(offset) % alignment == 0 else {
                throw .malformed("tensor \(name) offset \(offset) is not aligned to \(alignment)")
            }
            guard index.updateValue(infos.count, forKey: name) == nil else { throw .malformed("duplicate tensor \(name)") }
            infos.append((name, dimensions, type, Int(offset), bytes))
        }

        let dataStart = (cursor.offset + alignment - 1) / alignment * alignment
        var tensors: [TensorData] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let (start, overflow) = dataStart.addingReportingOverflow(info.offset)
            guard !overflow else { throw .malformed("tensor \(info.name) offset overflows") }
            let bytes = try file.bytes(at: start, length: info.bytes, what: "data of tensor \(info.name)")
            tensors.append(TensorData(name: info.name, shape: info.dimensions, type: info.type, bytes: bytes, owner: file))
        }
        self.tensors = tensors
        self.tensorIndex = index
    }

    /// The tensor called `name`, or nil.
    public func tensor(_ name: String) -> TensorData? {
        tensorIndex[name].map { tensors[$0] }
    }

    private static func readString(_ cursor: inout ByteCursor, what: String) throws(ModelFileError) -> String {
        let length = try cursor.read(UInt64.self, what: "length of \(what)")
        guard length <= UInt64(stringBytesMax) else { throw .malformed("\(what) of \(length) bytes is longer than \(stringBytesMax)") }
        let raw = try cursor.take(Int(length), what: what)
        guard let string = String(validating: raw, as: UTF8.self) else { throw .malformed("\(what) is not valid UTF-8") }
        return string
    }

    private static func readValue(_ cursor: inout ByteCursor, type: UInt32, depth: Int, key: String) throws(ModelFileError) -> GGUFValue {
        let what = "value of \(key)"
        switch type {
        case 0: return .unsigned(UInt64(try cursor.read(UInt8.self, what: what)))
        case 1: return .signed(Int64(try cursor.read(Int8.self, what: what)))
        case 2: return .unsigned(UInt64(try cursor.read(UInt16.self, what: what)))
        case 3: return .signed(Int64(try cursor.read(Int16.self, what: what)))
        case 4: return .unsigned(UInt64(try cursor.read(UInt32.self, what: what)))
        case 5: return .signed(Int64(try cursor.read(Int32.self, what: what)))
        case 6: return .float(Double(try cursor.readFloat32(what: what)))
        case 7:
            let byte = try cursor.read(UInt8.self, what: what)
            guard byte <= 1 else { throw .malformed("\(key) holds boolean \(byte)") }
            return .bool(byte == 1)
        case 8: return .string(try readString(&cursor, what: what))
        case 9:
            guard depth < arrayDepthMax else { throw .malformed("\(key) nests arrays deeper than \(arrayDepthMax)") }
            let elementType = try cursor.read(UInt32.self, what: "array type of \(key)")
            let count = try cursor.read(UInt64.self, what: "array length of \(key)")
            guard count <= UInt64(arrayElementsMax), count <= UInt64(cursor.remaining) else {
                throw .malformed("\(key) claims \(count) array elements")
            }
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                elements.append(try readValue(&cursor, type: elementType, depth: depth + 1, key: key))
            }
            return .array(elements)
        case 10: return .unsigned(try cursor.read(UInt64.self, what: what))
        case 11: return .signed(try cursor.read(Int64.self, what: what))
        case 12: return .float(try cursor.readFloat64(what: what))
        default: throw .malformed("\(key) has unknown value type \(type)")
        }
    }
}
