import Foundation

/// A `.safetensors` file mapped read-only: an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, then the data.
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

        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw .malformed("safetensors header is not JSON: \(error.localizedDescription)")
        }
        guard let entries = object as? [String: Any] else { throw .malformed("safetensors header is not a JSON object") }

        var metadata: [String: String] = [:]
        var tensors: [TensorData] = []
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let strings = entry as? [String: String] else { throw .malformed("__metadata__ must map strings to strings") }
                metadata = strings
                continue
            }
            guard let fields = entry as? [String: Any],
                  let dtype = fields["dtype"] as? String,
                  let shapeValues = fields["shape"] as? [Any],
                  let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2
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
        self.tensors = tensors
        self.metadata = metadata
        self.tensorIndex = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// The tensor called `name`, or nil.
    public func tensor(_ name: String) -> TensorData? {
        tensorIndex[name].map { tensors[$0] }
    }

    private static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let integer = value as? Int, integer >= 0 else { return nil }
        return integer
    }
}
