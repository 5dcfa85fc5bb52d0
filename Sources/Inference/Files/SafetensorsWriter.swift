import Foundation

/// Writes `.safetensors` files: the 8-byte header length, the JSON header (sorted keys,
/// padded with spaces to 8 bytes), then each tensor's little-endian values in order.
enum SafetensorsWriter {
    /// One tensor to write.
    struct Tensor {
        let name: String
        let shape: [Int]
        let values: [Float]
    }

    /// Writes `tensors` as `type` (F32, F16 or BF16, rounded to nearest even) with
    /// `metadata` strings to `path`, whole or not at all (`DurableFile`).
    static func write(_ tensors: [Tensor], type: TensorType, metadata: [String: String], to path: String) throws(AdapterError) {
        try DurableFile.replace(path) { (file: FileSink) throws(AdapterError) in try write(tensors, type: type, metadata: metadata, to: file) }
    }

    /// Writes the file into `file`.
    static func write(_ tensors: [Tensor], type: TensorType, metadata: [String: String], to file: FileSink) throws(AdapterError) {
        let path = file.path
        let dtype: String
        switch type {
        case .f32: dtype = "F32"
        case .f16: dtype = "F16"
        case .bf16: dtype = "BF16"
        default: throw .notRepresentable("safetensors values of type \(type) (F32, F16 or BF16)")
        }
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        let width = type == .f32 ? 4 : 2
        for tensor in tensors {
            assert(tensor.shape.reduce(1, *) == tensor.values.count, "tensor \(tensor.name) shape does not match its values")
            header[tensor.name] = ["dtype": dtype, "shape": tensor.shape, "data_offsets": [offset, offset + width * tensor.values.count]]
            offset += width * tensor.values.count
        }
        var headerBytes: [UInt8]
        do { headerBytes = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) } catch {
            throw .writeFailed(path: path, reason: error.localizedDescription)
        }
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
        try file.write(withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) })
        try file.write(headerBytes)
        for tensor in tensors { try PEFTWriter.write(tensor.values, as: type, named: tensor.name, to: file) }
    }
}
