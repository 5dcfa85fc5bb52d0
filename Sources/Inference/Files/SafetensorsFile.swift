import CJSON
import Foundation

/// A `.safetensors` file mapped read-only: an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, then the data. The header is
/// parsed with cJSON (tens of times faster than Foundation's parser, which mattered for
/// adapter loads).
public final class SafetensorsFile: Sendable {
    /// Largest JSON header accepted, in bytes (the format's own limit).
    public static let headerBytesMax = 100 << 20

    /// The mapped bytes the tensors point into.
    public let file: MappedFile
    /// Tensors sorted by name.
    public let tensors: [TensorData]
    /// The free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let tensorIndex: [String: Int]

    /// Opens and validates the safetensors file at `path`.
    public convenience init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    /// Parses and validates an already mapped file.
    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        var cursor = ByteCursor(UnsafeRawBufferPointer(start: file.base, count: file.size))
        let headerLength = try cursor.read(UInt64.self, what: "safetensors header length")
        guard headerLength <= UInt64(Self.headerBytesMax) else {
            throw .malformed("safetensors header of \(headerLength) bytes exceeds \(Self.headerBytesMax)")
        }
        let header = try cursor.take(Int(headerLength), what: "safetensors header")
        let dataStart = cursor.offset
        let dataBytes = file.size - dataStart

        guard let root = Self.parseJSON(header) else { throw .malformed("safetensors header is not JSON") }
        defer { cJSON_Delete(root) }
        guard cJSON_IsObject(root) != 0 else { throw .malformed("safetensors header is not a JSON object") }

        var metadata: [String: String] = [:]
        var tensors: [TensorData] = []
        var names: Set<String> = []
        for node in Self.children(root) {
            let name = String(cString: node.pointee.string)
            guard names.insert(name).inserted else { throw .malformed("safetensors header names \(name) twice") }
            if name == "__metadata__" {
                metadata = try Self.strings(node)
                continue
            }
            guard let dtype = Self.string(cJSON_GetObjectItemCaseSensitive(node, "dtype")),
                  let shapeValues = Self.array(cJSON_GetObjectItemCaseSensitive(node, "shape")),
                  let offsetValues = Self.array(cJSON_GetObjectItemCaseSensitive(node, "data_offsets")), offsetValues.count == 2
            else { throw .malformed("tensor \(name) lacks dtype, shape or data_offsets") }
            let type: TensorType
            switch dtype {
            case "F32": type = .f32
            case "F16": type = .f16
            case "BF16": type = .bf16
            default: throw .unsupported("tensor \(name) has dtype \(dtype) (supported: F32, F16, BF16)")
            }
            var shape: [Int] = []
            var elements = 1
            for value in shapeValues {
                guard let dimension = Self.nonNegativeInteger(value), dimension <= Int(Int32.max) else {
                    throw .malformed("tensor \(name) has a bad dimension")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .malformed("tensor \(name) is too large") }
                elements = product
                shape.append(dimension)
            }
            guard let begin = Self.nonNegativeInteger(offsetValues[0]), let end = Self.nonNegativeInteger(offsetValues[1]),
                  begin <= end, end <= dataBytes
            else { throw .malformed("tensor \(name) has data_offsets outside the \(dataBytes) data bytes") }
            guard end - begin == type.byteCount(elements: elements) else {
                throw .malformed("tensor \(name): \(end - begin) bytes do not hold \(elements) \(dtype) values")
            }
            let bytes = try file.bytes(at: dataStart + begin, length: end - begin, what: "data of tensor \(name)")
            tensors.append(TensorData(name: name, rowMajorShape: shape, type: type, bytes: bytes, owner: file))
        }
        tensors.sort { $0.name < $1.name }
        self.tensors = tensors
        self.metadata = metadata
        self.tensorIndex = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// The tensor called `name`, or nil.
    public func tensor(_ name: String) -> TensorData? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Parses `text` as one JSON value followed by nothing but whitespace (the format pads
    /// headers with spaces); nil if it is not. The caller deletes the tree.
    private static func parseJSON(_ text: UnsafeRawBufferPointer) -> UnsafeMutablePointer<cJSON>? {
        guard let start = text.baseAddress else { return nil }
        var end: UnsafePointer<CChar>? = nil
        guard let root = cJSON_ParseWithLengthOpts(start.assumingMemoryBound(to: CChar.self), text.count, &end, 0) else { return nil }
        let consumed = end.map { UnsafeRawPointer($0) - start } ?? text.count
        guard text[consumed...].allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            cJSON_Delete(root)
            return nil
        }
        return root
    }

    /// The value of a JSON string node, or nil.
    private static func string(_ node: UnsafeMutablePointer<cJSON>?) -> String? {
        guard cJSON_IsString(node) != 0, let text = node?.pointee.valuestring else { return nil }
        return String(cString: text)
    }

    /// The elements of a JSON array node, or nil.
    private static func array(_ node: UnsafeMutablePointer<cJSON>?) -> [UnsafeMutablePointer<cJSON>]? {
        guard let node, cJSON_IsArray(node) != 0 else { return nil }
        return children(node)
    }

    /// The members of an object or elements of an array, in order.
    private static func children(_ node: UnsafeMutablePointer<cJSON>) -> [UnsafeMutablePointer<cJSON>] {
        var children: [UnsafeMutablePointer<cJSON>] = []
        var next = node.pointee.child
        while let child = next {
            children.append(child)
            next = child.pointee.next
        }
        return children
    }

    /// `__metadata__`: an object of strings.
    private static func strings(_ node: UnsafeMutablePointer<cJSON>) throws(ModelFileError) -> [String: String] {
        guard cJSON_IsObject(node) != 0 else { throw .malformed("__metadata__ must map strings to strings") }
        var strings: [String: String] = [:]
        for item in children(node) {
            guard let value = string(item) else { throw .malformed("__metadata__ must map strings to strings") }
            strings[String(cString: item.pointee.string)] = value
        }
        return strings
    }

    /// A JSON number that is a whole number in 0..<2⁵³ (where doubles are exact), or nil.
    private static func nonNegativeInteger(_ node: UnsafeMutablePointer<cJSON>) -> Int? {
        guard cJSON_IsNumber(node) != 0 else { return nil }
        let value = node.pointee.valuedouble
        guard value >= 0, value < 0x1p53, value == value.rounded(.towardZero) else { return nil }
        return Int(value)
    }
}
