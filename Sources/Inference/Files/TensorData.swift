/// A named tensor whose bytes live in a mapped file (or other storage kept alive by `owner`).
public struct TensorData: @unchecked Sendable {
    /// The tensor's name in its file.
    public let name: String
    /// Dimensions outermost first, as PyTorch writes them: a linear layer's weight is
    /// `[outputs, inputs]` and each of its `outputs` rows is contiguous.
    public let shape: [Int]
    /// How the values are encoded.
    public let type: TensorType
    /// Exactly the tensor's encoded bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the storage behind `bytes` alive.
    let owner: AnyObject

    /// Wraps bytes from a file. `ggufDimensions` lists the fastest-varying dimension first.
    init(name: String, shape ggufDimensions: [Int], type: TensorType, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.init(name: name, rowMajorShape: Array(ggufDimensions.reversed()), type: type, bytes: bytes, owner: owner)
    }

    init(name: String, rowMajorShape: [Int], type: TensorType, bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.name = name
        self.shape = rowMajorShape
        self.type = type
        self.bytes = bytes
        self.owner = owner
    }

    /// Number of values.
    public var elementCount: Int { shape.reduce(1, *) }

    /// All values as float32 (exact for every supported type).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            type.dequantize(bytes.baseAddress!, count: elementCount, into: buffer.baseAddress!)
            initialized = elementCount
        }
    }
}
