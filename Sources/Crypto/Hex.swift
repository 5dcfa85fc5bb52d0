import Foundation
import CSodium

/// Lowercase hexadecimal codecs, through libsodium's constant-time `bin2hex` / `hex2bin`.
public enum Hex {
    public static func encode(_ bytes: some ContiguousBytes) -> String {
        Sodium.ready()
        return bytes.withUnsafeBytes { raw -> String in
            guard raw.count > 0 else { return "" }
            let capacity = raw.count * 2 + 1
            return String(unsafeUninitializedCapacity: capacity) { output in
                output.withMemoryRebound(to: CChar.self) { chars in
                    _ = sodium_bin2hex(chars.baseAddress!, capacity, raw.bindMemory(to: UInt8.self).baseAddress!, raw.count)
                }
                return capacity - 1
            }
        }
    }

    /// Decodes hex text (either case) of exactly `expectedCount` bytes when given; nil on any
    /// non-hex character, odd length or wrong length.
    public static func decode(_ text: String, expectedCount: Int? = nil) -> [UInt8]? {
        Sodium.ready()
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        let count = utf8.count / 2
        if let expectedCount, expectedCount != count { return nil }
        if count == 0 { return [] }
        var output = [UInt8](repeating: 0, count: count)
        var written = 0
        var end: UnsafePointer<CChar>?
        let status = utf8.withUnsafeBufferPointer { input in
            input.withMemoryRebound(to: CChar.self) { chars in
                output.withUnsafeMutableBufferPointer { out in
                    sodium_hex2bin(out.baseAddress!, count, chars.baseAddress!, chars.count, nil, &written, &end)
                }
            }
        }
        guard status == 0, written == count else { return nil }
        return output
    }
}
