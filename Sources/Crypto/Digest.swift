import CSodium
import Foundation

/// A BLAKE2b-256 digest (libsodium `crypto_generichash` with a 32-byte output).
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes32: Bytes32

    public init(_ bytes32: Bytes32) { self.bytes32 = bytes32 }

    public static let zero = Digest(.zero)

    /// The BLAKE2b-256 digest of `data`.
    public static func blake2b(_ data: some ContiguousBytes) -> Digest {
        Sodium.ready()
        return data.withUnsafeBytes { input in
            Digest(Bytes32 { out in
                _ = crypto_generichash(
                    out.bindMemory(to: UInt8.self).baseAddress!, 32,
                    input.bindMemory(to: UInt8.self).baseAddress, UInt64(input.count), nil, 0)
            })
        }
    }

    public init?(hex: String) {
        guard let value = Bytes32(hex: hex) else { return nil }
        self.bytes32 = value
    }

    public var hex: String { bytes32.hex }
    public var bytes: [UInt8] { bytes32.bytes }
    public var description: String { hex }

    public static func < (a: Digest, b: Digest) -> Bool { a.bytes32 < b.bytes32 }
}
