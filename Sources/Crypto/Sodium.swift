import Foundation
import CSodium

/// libsodium must be initialised once before use; every entry point of this module calls
/// `Sodium.ready()` first (a cheap check after the first call).
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    static func ready() {
        precondition(initialised, "libsodium failed to initialise")
    }
}

/// Compares two byte sequences in time that depends only on their length (libsodium's
/// `sodium_memcmp`). Sequences of different length compare unequal.
public func constantTimeEqual(_ a: some ContiguousBytes, _ b: some ContiguousBytes) -> Bool {
    Sodium.ready()
    return a.withUnsafeBytes { left in
        b.withUnsafeBytes { right in
            left.count == right.count
                && (left.count == 0 || sodium_memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
        }
    }
}

/// Fills `count` bytes from the operating system's secure random source.
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    Sodium.ready()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
    return bytes
}
