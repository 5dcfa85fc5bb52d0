import Foundation

/// Thirty-two bytes stored inline (no heap allocation), the storage of digests and public keys.
public struct Bytes32: Hashable, Comparable, Sendable, ContiguousBytes {
    public static let count = 32
    public static let zero = Bytes32(words: (0, 0, 0, 0))

    private var words: (UInt64, UInt64, UInt64, UInt64)

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Copies exactly 32 bytes; nil for any other length.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.count else { return nil }
        var value = Bytes32.zero
        withUnsafeMutableBytes(of: &value.words) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        self = value
    }

    /// Fills the 32 bytes by calling `body` with a writable buffer.
    public init(filling body: (UnsafeMutableRawBufferPointer) -> Void) {
        var value = Bytes32.zero
        withUnsafeMutableBytes(of: &value.words) { body($0) }
        self = value
    }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex, expectedCount: Self.count) else { return nil }
        self.init(bytes)
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    public var hex: String { Hex.encode(self) }

    /// Bit `index` counted from the most significant bit of byte 0 (index 0) to byte 31's least.
    public func bit(_ index: Int) -> Bool {
        precondition((0..<256).contains(index), "bit index out of range")
        return withUnsafeBytes { ($0[index >> 3] >> (7 - UInt8(index & 7))) & 1 == 1 }
    }

    public static func == (a: Bytes32, b: Bytes32) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Lexicographic order of the bytes.
    public static func < (a: Bytes32, b: Bytes32) -> Bool {
        a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in
                for index in 0..<count where left[index] != right[index] {
                    return left[index] < right[index]
                }
                return false
            }
        }
    }
}
