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

    /// Reads the key at `path`, refusing files readable by group or others.
    public static func read(from path: String) throws(Error) -> SigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: info.st_mode) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied or not a file")
        }
        guard data.count < 4096,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw .malformed(path: path, reason: "not a JSON object") }
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
