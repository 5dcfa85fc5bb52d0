import CSodium
import Foundation

/// An Ed25519 public key; on Tributary it is also the account address (64 lowercase hex).
public struct PublicKey: Hashable, Comparable, Sendable, CustomStringConvertible, CanonicalCodable {
    public let bytes32: Bytes32

    public init(_ bytes32: Bytes32) { self.bytes32 = bytes32 }

    /// Parses 64 hex characters.
    public init?(hex: String) {
        guard let value = Bytes32(hex: hex) else { return nil }
        self.bytes32 = value
    }

    public var hex: String { bytes32.hex }
    public var description: String { hex }

    /// Whether `signature` is a valid Ed25519 signature by this key over `message`.
    public func isValidSignature(_ signature: Signature, for message: some ContiguousBytes) -> Bool {
        Sodium.ready()
        return signature.bytes.withUnsafeBufferPointer { sig in
            bytes32.withUnsafeBytes { key in
                message.withUnsafeBytes { msg in
                    crypto_sign_verify_detached(
                        sig.baseAddress!, msg.bindMemory(to: UInt8.self).baseAddress, UInt64(msg.count),
                        key.bindMemory(to: UInt8.self).baseAddress!) == 0
                }
            }
        }
    }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.bytes32 < b.bytes32 }

    public func encode(to writer: inout CanonicalWriter) { writer.write(bytes32) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        self.bytes32 = try reader.readBytes32()
    }
}

/// A detached Ed25519 signature (64 bytes).
public struct Signature: Hashable, Sendable, CanonicalCodable {
    public static let count = 64
    public let bytes: [UInt8]

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.count else { return nil }
        self.bytes = Array(bytes)
    }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex, expectedCount: Self.count) else { return nil }
        self.bytes = bytes
    }

    public var hex: String { Hex.encode(bytes) }

    public func encode(to writer: inout CanonicalWriter) { writer.write(raw: bytes) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        self.bytes = Array(try reader.read(raw: Self.count))
    }
}

/// An Ed25519 secret key, held in libsodium guarded memory that is wiped when released.
public final class SigningKey: @unchecked Sendable {
    // Written once in init, then only read: safe to share across threads.
    private let secret: UnsafeMutablePointer<UInt8>
    public let publicKey: PublicKey

    /// A fresh key from the operating system's secure random source.
    public convenience init() {
        self.init(seed: secureRandomBytes(Int(crypto_sign_SEEDBYTES)))!
    }

    /// The key determined by a 32-byte seed; nil for any other length.
    public init?(seed: [UInt8]) {
        Sodium.ready()
        guard seed.count == Int(crypto_sign_SEEDBYTES) else { return nil }
        guard let memory = sodium_malloc(Int(crypto_sign_SECRETKEYBYTES)) else {
            fatalError("sodium_malloc failed: out of memory")
        }
        secret = memory.bindMemory(to: UInt8.self, capacity: Int(crypto_sign_SECRETKEYBYTES))
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        crypto_sign_seed_keypair(&publicBytes, secret, seed)
        publicKey = PublicKey(Bytes32(publicBytes)!)
    }

    deinit { sodium_free(secret) }

    /// The 32-byte seed this key was made from (the first half of libsodium's secret key).
    public var seed: [UInt8] { Array(UnsafeBufferPointer(start: secret, count: Int(crypto_sign_SEEDBYTES))) }

    /// A detached signature over `message`.
    public func sign(_ message: some ContiguousBytes) -> Signature {
        var output = [UInt8](repeating: 0, count: Signature.count)
        message.withUnsafeBytes { msg in
            _ = crypto_sign_detached(&output, nil, msg.bindMemory(to: UInt8.self).baseAddress, UInt64(msg.count), secret)
        }
        return Signature(output)!
    }
}
