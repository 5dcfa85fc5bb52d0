import Foundation
import Inference

/// Writes GGUF v3 files byte by byte, so parser tests can build valid files and then
/// damage them.
struct GGUFBuilder {
    enum Value {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String), u64(UInt64)
        case array(type: UInt32, [Value])

        var typeCode: UInt32 {
            switch self {
            case .u32: 4
            case .i32: 5
            case .f32: 6
            case .bool: 7
            case .string: 8
            case .array: 9
            case .u64: 10
            }
        }
    }

    struct Tensor {
        let name: String
        /// Fastest-varying dimension first, as GGUF stores it.
        let dimensions: [UInt64]
        let type: UInt32
        let data: [UInt8]
    }

    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []
    var alignment = 32

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out += Array("GGUF".utf8)
        Self.append(UInt32(3), to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        Self.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            Self.appendString(key, to: &out)
            Self.append(value.typeCode, to: &out)
            Self.appendValue(value, to: &out)
        }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += UInt64((tensor.data.count + alignment - 1) / alignment * alignment)
        }
        for (tensor, offset) in zip(tensors, offsets) {
            Self.appendString(tensor.name, to: &out)
            Self.append(UInt32(tensor.dimensions.count), to: &out)
            tensor.dimensions.forEach { Self.append($0, to: &out) }
            Self.append(tensor.type, to: &out)
            Self.append(offset, to: &out)
        }
        out += [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment)
        for (index, tensor) in tensors.enumerated() {
            out += tensor.data
            if index < tensors.count - 1 {
                out += [UInt8](repeating: 0, count: (alignment - tensor.data.count % alignment) % alignment)
            }
        }
        return out
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    static func appendString(_ string: String, to out: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &out)
        out += Array(string.utf8)
    }

    static func appendValue(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case let .u32(v): append(v, to: &out)
        case let .i32(v): append(v, to: &out)
        case let .f32(v): append(v.bitPattern, to: &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(v): appendString(v, to: &out)
        case let .u64(v): append(v, to: &out)
        case let .array(type, values):
            append(type, to: &out)
            append(UInt64(values.count), to: &out)
            values.forEach { appendValue($0, to: &out) }
        }
    }
}

/// Writes `.safetensors` files: JSON header, then the tensors' bytes.
struct SafetensorsBuilder {
    var tensors: [(name: String, dtype: String, shape: [Int], data: [UInt8])] = []

    func bytes() -> [UInt8] {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for tensor in tensors {
            header[tensor.name] = ["dtype": tensor.dtype, "shape": tensor.shape, "data_offsets": [offset, offset + tensor.data.count]]
            offset += tensor.data.count
        }
        let json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out: [UInt8] = []
        GGUFBuilder.append(UInt64(json.count), to: &out)
        out += json
        tensors.forEach { out += $0.data }
        return out
    }
}

/// Little-endian bytes of float32 values.
func float32Bytes(_ values: [Float]) -> [UInt8] {
    #if _endian(little)
    return values.withUnsafeBytes { Array($0) }
    #else
    return values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    #endif
}

/// Little-endian bytes of an IEEE half.
func halfBytes(_ value: Float16) -> [UInt8] {
    withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
}

/// Writes `bytes` to a new file in `directory` and returns its path.
func write(_ bytes: [UInt8], named name: String, in directory: URL) -> String {
    let url = directory.appendingPathComponent(name)
    try! Data(bytes).write(to: url)
    return url.path
}
