/// GPT-2's byte-level alphabet: every byte is spelled as one printable Unicode scalar, so a
/// vocabulary of strings can hold arbitrary bytes. Printable Latin-1 bytes stand for
/// themselves; the other 68 bytes map to U+0100 onwards in byte order.
enum ByteLevelAlphabet {
    /// Scalar spelling each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// Byte spelled by each scalar of the alphabet.
    static let byteForScalar: [Unicode.Scalar: UInt8] = {
        var table: [Unicode.Scalar: UInt8] = [:]
        for (byte, scalar) in scalarForByte.enumerated() { table[scalar] = UInt8(byte) }
        return table
    }()

    /// The bytes a vocabulary entry stands for, or nil if it is not spelled in the alphabet.
    static func bytes(of token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = byteForScalar[scalar] else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// The alphabet spelling of `bytes`.
    static func spelling(of bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalarForByte[Int(byte)]) }
        return String(text)
    }
}
