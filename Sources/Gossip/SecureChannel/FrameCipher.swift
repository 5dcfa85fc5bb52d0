import Crypto

/// Authenticated encryption of a connection's frames after the handshake.
///
/// A frame on the wire is a `u32` big-endian length, then that many bytes of ciphertext: the
/// plaintext encrypted with ChaCha20-Poly1305 under this direction's session key, its 16-byte
/// tag included, with the four length bytes as additional data (so the length cannot be
/// changed either). The nonce is the number of frames sent before in this direction, so a
/// frame replayed, dropped or reordered fails to open.
public struct FrameCipher: Sendable {
    public static let lengthBytes = 4
    public static var tagBytes: Int { SymmetricKey.tagBytes }

    private let keys: SessionKeys
    private var sentFrames: UInt64 = 0
    private var receivedFrames: UInt64 = 0

    public init(keys: SessionKeys) { self.keys = keys }

    /// Appends the frame carrying `plaintext` (length prefix and ciphertext) to `output`.
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        let length = UInt32(plaintext.count + Self.tagBytes)
        var header = length.bigEndian
        withUnsafeBytes(of: &header) { headerBytes in
            output.append(contentsOf: headerBytes)
            keys.transmit.seal(plaintext, additionalData: headerBytes, counter: sentFrames, appendingTo: &output)
        }
        sentFrames += 1
    }

    public mutating func seal(_ plaintext: [UInt8], appendingTo output: inout [UInt8]) {
        plaintext.withUnsafeBytes { seal($0, appendingTo: &output) }
    }

    /// The plaintext of the next frame from the peer, whose length prefix said `length`; nil if
    /// it fails authentication (the connection must then be dropped).
    public mutating func open(_ ciphertext: UnsafeRawBufferPointer, length: UInt32) -> [UInt8]? {
        precondition(ciphertext.count == Int(length), "frame body and its length prefix disagree")
        var header = length.bigEndian
        let plaintext = withUnsafeBytes(of: &header) { keys.receive.open(ciphertext, additionalData: $0, counter: receivedFrames) }
        if plaintext != nil { receivedFrames += 1 }
        return plaintext
    }

    /// The length prefix of a frame read from the wire.
    public static func length(_ header: some Collection<UInt8>) -> UInt32 {
        precondition(header.count == lengthBytes, "a frame length is four bytes")
        return header.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
