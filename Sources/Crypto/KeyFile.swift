import Foundation

/// Key files: JSON `{"type": "ed25519", "address": "<64 hex>", "seed": "<64 hex>"}`, written
/// with mode 0600 and refused when readable by group or others.
public enum KeyFile {
    public enum Error: Swift.Error, CustomStringConvertible {
        case exists(path: String)
        case unreadable(path: String, reason: String)
        case tooOpen(path: String, mode: mode_t)
        case malformed(path: String, reason: String)
        case writeFailed(path: String, reason: String)

        public var description: String {
            switch self {
            case let .exists(path): "key file \(path) already exists; refusing to overwrite it"
            case let .unreadable(path, reason): "cannot read key file \(path): \(reason)"
            case let .tooOpen(path, mode):
                "key file \(path) has mode \(String(mode & 0o777, radix: 8)) and is readable by group or others; run 'chmod 600 \(path)'"
            case let .malformed(path, reason): "key file \(path) is malformed: \(reason)"
            case let .writeFailed(path, reason): "cannot write key file \(path): \(reason)"
            }
        }
    }

    /// Writes `key` to a new file at `path` with mode 0600; never overwrites.
    public static func write(_ key: SigningKey, to path: String) throws(Error) {
        let document = "{\"type\": \"ed25519\", \"address\": \"\(key.publicKey.hex)\", \"seed\": \"\(Hex.encode(key.seed))\"}\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw .exists(path: path) }
            throw .writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let bytes = Array(document.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw .writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Reads the key at `path`, refusing anything but a small regular file that only its owner
    /// can read. The checks are made on the opened file, so it cannot be swapped in between.
    public static func read(from path: String) throws(Error) -> SigningKey {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        guard info.st_mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: info.st_mode) }
        guard info.st_size <= 4096 else { throw .malformed(path: path, reason: "larger than 4096 bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
        guard count == bytes.count else { throw .unreadable(path: path, reason: "short read") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw .malformed(path: path, reason: "not a JSON object")
        }
        guard object["type"] as? String == "ed25519" else {
            throw .malformed(path: path, reason: "type must be \"ed25519\"")
        }
        guard let seedHex = object["seed"] as? String, let seed = Hex.decode(seedHex, expectedCount: 32),
              let key = SigningKey(seed: seed)
        else { throw .malformed(path: path, reason: "seed must be 64 hex characters") }
        if let address = object["address"] as? String, address.lowercased() != key.publicKey.hex {
            throw .malformed(path: path, reason: "address does not match the seed")
        }
        return key
    }
}
