/// Reads little-endian values from a byte range, checking every read against its end.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next read from the start of `bytes`.
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ length: Int, what: String) throws(ModelFileError) -> UnsafeRawBufferPointer {
        guard length >= 0, length <= remaining else {
            throw .truncated(what: what, offset: offset, length: length, size: bytes.count)
        }
        defer { offset += length }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, what: String) throws(ModelFileError) -> T {
        let raw = try take(MemoryLayout<T>.size, what: what)
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    mutating func readFloat32(what: String) throws(ModelFileError) -> Float {
        Float(bitPattern: try read(UInt32.self, what: what))
    }

    mutating func readFloat64(what: String) throws(ModelFileError) -> Double {
        Double(bitPattern: try read(UInt64.self, what: what))
    }

    /// Moves to an absolute offset inside `bytes`.
    mutating func seek(to newOffset: Int, what: String) throws(ModelFileError) {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw .truncated(what: what, offset: newOffset, length: 0, size: bytes.count)
        }
        offset = newOffset
    }
}
