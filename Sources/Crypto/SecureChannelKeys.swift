import CSodium
import Foundation

/// A 32-byte secret in libsodium guarded memory, wiped when released.
final class SecretBytes: @unchecked Sendable {
    // Written once in init, then only read.
    let pointer: UnsafeMutablePointer<UInt8>
    let count: Int

    init(count: Int) {
        Sodium.ready()
        guard let memory = sodium_malloc(count) else { fatalError("sodium_malloc failed: out of memory") }
        pointer = memory.bindMemory(to: UInt8.self, capacity: count)
        self.count = count
    }

    deinit { sodium_free(pointer) }
}

/// An ephemeral X25519 key pair for one connection's key exchange (libsodium `crypto_kx`).
/// The secret half never leaves this object and is wiped when it is released.
public final class EphemeralKeyPair: Sendable {
    public let publicKey: Bytes32
    private let secret: SecretBytes

    /// A fresh key pair from the operating system's secure random source.
    public init() {
        secret = SecretBytes(count: Int(crypto_kx_SECRETKEYBYTES))
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_kx_PUBLICKEYBYTES))
        crypto_kx_keypair(&publicBytes, secret.pointer)
        publicKey = Bytes32(publicBytes)!
    }

    /// The two directions' keys shared with the owner of `peerKey`; `isDialer` says which side
    /// of the exchange this key pair is (crypto_kx's client or server). Nil when `peerKey` is not
    /// an acceptable public key (for example a low-order point).
    public func sessionKeys(peerKey: Bytes32, isDialer: Bool) -> SessionKeys? {
        let receive = SymmetricKey()
        let transmit = SymmetricKey()
        let peer = peerKey.bytes
        let result = publicKey.bytes.withUnsafeBufferPointer { own in
            if isDialer {
                return crypto_kx_client_session_keys(receive.secret.pointer, transmit.secret.pointer, own.baseAddress!, secret.pointer, peer)
            }
            return crypto_kx_server_session_keys(receive.secret.pointer, transmit.secret.pointer, own.baseAddress!, secret.pointer, peer)
        }
        guard result == 0 else { return nil }
        return SessionKeys(receive: receive, transmit: transmit)
    }
}

/// The keys of one session: one per direction, so the two sides never encrypt under the same
/// key and nonce.
public struct SessionKeys: Sendable {
    public let receive: SymmetricKey
    public let transmit: SymmetricKey
}

/// A ChaCha20-Poly1305 (IETF) key for authenticated encryption, in guarded memory.
///
/// Nonces are a 64-bit counter (4 zero bytes, then the counter big-endian): a key must encrypt
/// each counter value at most once, which a per-direction frame counter starting at zero gives.
public final class SymmetricKey: Sendable {
    public static let tagBytes = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)
    fileprivate let secret = SecretBytes(count: Int(crypto_aead_chacha20poly1305_ietf_KEYBYTES))

    fileprivate init() {}

    /// Encrypts `plaintext`, authenticating `additionalData` too, and appends the ciphertext
    /// with its tag (`plaintext.count + tagBytes` bytes) to `output`.
    public func seal(_ plaintext: UnsafeRawBufferPointer, additionalData: UnsafeRawBufferPointer, counter: UInt64,
                     appendingTo output: inout [UInt8]) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: plaintext.count + Self.tagBytes))
        var nonce = Self.nonce(counter)
        var written: UInt64 = 0
        output.withUnsafeMutableBufferPointer { buffer in
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                buffer.baseAddress! + start, &written,
                plaintext.bindMemory(to: UInt8.self).baseAddress, UInt64(plaintext.count),
                additionalData.bindMemory(to: UInt8.self).baseAddress, UInt64(additionalData.count),
                nil, &nonce, secret.pointer)
        }
        precondition(Int(written) == plaintext.count + Self.tagBytes, "AEAD output length")
    }

    /// Decrypts and authenticates `ciphertext` (with its tag); nil when it, the additional data
    /// or the counter do not match what was sealed.
    public func open(_ ciphertext: UnsafeRawBufferPointer, additionalData: UnsafeRawBufferPointer, counter: UInt64) -> [UInt8]? {
        guard ciphertext.count >= Self.tagBytes else { return nil }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count - Self.tagBytes)
        var nonce = Self.nonce(counter)
        var written: UInt64 = 0
        let result = plaintext.withUnsafeMutableBufferPointer { buffer in
            crypto_aead_chacha20poly1305_ietf_decrypt(
                buffer.baseAddress, &written, nil,
                ciphertext.bindMemory(to: UInt8.self).baseAddress!, UInt64(ciphertext.count),
                additionalData.bindMemory(to: UInt8.self).baseAddress, UInt64(additionalData.count),
                &nonce, secret.pointer)
        }
        guard result == 0 else { return nil }
        return plaintext
    }

    private static func nonce(_ counter: UInt64) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES))
        withUnsafeBytes(of: counter.bigEndian) { nonce.replaceSubrange(4..<12, with: $0) }
        return nonce
    }
}
