/// Tributary's one deterministic binary encoding, used for everything that is hashed or signed.
///
/// Rules (see `docs/encoding.md`):
/// - unsigned integers are fixed-width big-endian (`u8`, `u16`, `u32`, `u64`);
/// - booleans and optional tags are one byte, `0` or `1` — any other byte is non-canonical;
/// - byte strings and UTF-8 strings are a `u32` length then the bytes, each field with its own
///   maximum length; arrays are a `u32` count then the elements, with a maximum count;
/// - 32- and 64-byte values (digests, keys, signatures) are written raw, without length;
/// - enums are a `u8` tag then the case's fields;
/// - a decoder must consume the input exactly: trailing bytes are an error.
///
/// Because every value has exactly one encoding, equal values hash equally and a decoder
/// accepts only bytes an encoder could have produced.
public protocol CanonicalCodable: Sendable {
    func encode(to writer: inout CanonicalWriter)
    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError)
}

extension CanonicalCodable {
    /// The canonical bytes of this value.
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes exactly one value from `bytes`, rejecting input longer than `maxBytes` and
    /// any bytes left over.
    public init(canonicalBytes bytes: some Collection<UInt8>, maxBytes: Int = 1 << 20) throws(CanonicalDecodingError) {
        guard bytes.count <= maxBytes else {
            throw .oversize(field: String(describing: Self.self), length: bytes.count, max: maxBytes)
        }
        var reader = CanonicalReader(Array(bytes))
        self = try Self(from: &reader)
        try reader.finish()
    }
}

/// Why bytes are not the canonical encoding of the expected value.
public enum CanonicalDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case trailingBytes(count: Int)
    case oversize(field: String, length: Int, max: Int)
    case nonCanonical(String)
    case unknownTag(type: String, tag: UInt8)
    case invalidUTF8(field: String)
    case invalidValue(String)

    public var description: String {
        switch self {
        case let .truncated(needed, available): "truncated input: needed \(needed) more bytes, \(available) left"
        case let .trailingBytes(count): "\(count) trailing bytes after the value"
        case let .oversize(field, length, max): "\(field) is \(length) long, more than the maximum \(max)"
        case let .nonCanonical(reason): "non-canonical encoding: \(reason)"
        case let .unknownTag(type, tag): "unknown \(type) tag \(tag)"
        case let .invalidUTF8(field): "\(field) is not valid UTF-8"
        case let .invalidValue(reason): "invalid value: \(reason)"
        }
    }
}

/// Appends canonical encodings to a byte buffer.
public struct CanonicalWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { appendBigEndian(value) }
    public mutating func write(_ value: UInt32) { appendBigEndian(value) }
    public mutating func write(_ value: UInt64) { appendBigEndian(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func write(_ value: Bytes32) { value.withUnsafeBytes { bytes.append(contentsOf: $0) } }
    public mutating func write(_ value: Digest) { write(value.bytes32) }
    public mutating func write(_ value: some CanonicalCodable) { value.encode(to: &self) }

    /// A length-prefixed byte string. Writing more than `max` bytes is a programming error:
    /// callers validate input before building values.
    public mutating func write(bytes value: some Collection<UInt8>, max: Int) {
        precondition(value.count <= max, "encoding \(value.count) bytes over the field maximum \(max)")
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func write(string value: String, max: Int) {
        write(bytes: Array(value.utf8), max: max)
    }

    public mutating func write<Element: CanonicalCodable>(array value: [Element], max: Int) {
        precondition(value.count <= max, "encoding \(value.count) elements over the field maximum \(max)")
        write(UInt32(value.count))
        for element in value { element.encode(to: &self) }
    }

    public mutating func write<Wrapped: CanonicalCodable>(optional value: Wrapped?) {
        if let value { write(UInt8(1)); value.encode(to: &self) } else { write(UInt8(0)) }
    }

    /// Raw bytes with no length prefix, for fixed-size fields.
    public mutating func write(raw value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads canonical encodings from a byte buffer, checking every bound.
public struct CanonicalReader: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    /// Fails unless every byte was consumed.
    public func finish() throws(CanonicalDecodingError) {
        if remaining != 0 { throw .trailingBytes(count: remaining) }
    }

    public mutating func read(raw count: Int) throws(CanonicalDecodingError) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw .truncated(needed: count, available: remaining) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    public mutating func readUInt8() throws(CanonicalDecodingError) -> UInt8 { try readBigEndian() }
    public mutating func readUInt16() throws(CanonicalDecodingError) -> UInt16 { try readBigEndian() }
    public mutating func readUInt32() throws(CanonicalDecodingError) -> UInt32 { try readBigEndian() }
    public mutating func readUInt64() throws(CanonicalDecodingError) -> UInt64 { try readBigEndian() }

    public mutating func readBool() throws(CanonicalDecodingError) -> Bool {
        switch try readUInt8() {
        case 0: false
        case 1: true
        case let other: throw .nonCanonical("boolean byte \(other)")
        }
    }

    public mutating func readBytes32() throws(CanonicalDecodingError) -> Bytes32 {
        Bytes32(try read(raw: Bytes32.count))!
    }

    public mutating func readDigest() throws(CanonicalDecodingError) -> Digest {
        Digest(try readBytes32())
    }

    public mutating func read<T: CanonicalCodable>(_ type: T.Type = T.self) throws(CanonicalDecodingError) -> T {
        try T(from: &self)
    }

    public mutating func readBytes(max: Int, field: String) throws(CanonicalDecodingError) -> [UInt8] {
        let length = Int(try readUInt32())
        guard length <= max else { throw .oversize(field: field, length: length, max: max) }
        return Array(try read(raw: length))
    }

    public mutating func readString(max: Int, field: String) throws(CanonicalDecodingError) -> String {
        let raw = try readBytes(max: max, field: field)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return text
    }

    public mutating func readArray<Element: CanonicalCodable>(
        of type: Element.Type = Element.self, max: Int, field: String
    ) throws(CanonicalDecodingError) -> [Element] {
        let count = Int(try readUInt32())
        guard count <= max else { throw .oversize(field: field, length: count, max: max) }
        var elements: [Element] = []
        elements.reserveCapacity(Swift.min(count, remaining))
        for _ in 0..<count { elements.append(try Element(from: &self)) }
        return elements
    }

    public mutating func readOptional<Wrapped: CanonicalCodable>(
        _ type: Wrapped.Type = Wrapped.self
    ) throws(CanonicalDecodingError) -> Wrapped? {
        switch try readUInt8() {
        case 0: nil
        case 1: try Wrapped(from: &self)
        case let other: throw .nonCanonical("optional tag \(other)")
        }
    }

    private mutating func readBigEndian<T: FixedWidthInteger>() throws(CanonicalDecodingError) -> T {
        let raw = try read(raw: MemoryLayout<T>.size)
        return raw.reduce(T(0)) { ($0 << 8) | T($1) }
    }
}

extension Bytes32: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readBytes32() }
}

extension Digest: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readDigest() }
}
