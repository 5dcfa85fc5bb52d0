import Foundation

/// A file written front to back with `write(2)`, every failure reported as an `AdapterError`.
final class FileSink {
    let path: String
    private var descriptor: Int32

    /// Creates or truncates `path`.
    init(path: String) throws(AdapterError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { if descriptor >= 0 { Foundation.close(descriptor) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws(AdapterError) {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
            offset += written
        }
    }

    func write(_ bytes: [UInt8]) throws(AdapterError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(AdapterError) in try write(raw) } }.get()
    }

    /// Little-endian float32 values.
    func write(floats: [Float]) throws(AdapterError) {
        #if _endian(little)
        try floats.withUnsafeBytes { raw in Result { () throws(AdapterError) in try write(raw) } }.get()
        #else
        try write(floats.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } })
        #endif
    }

    /// Flushes what was written to the disk (`fsync`).
    func sync() throws(AdapterError) {
        guard fsync(descriptor) == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
    }

    func close() throws(AdapterError) {
        let result = Foundation.close(descriptor)
        descriptor = -1
        guard result == 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
    }
}

/// Creates `path` and its parents if needed.
func createDirectory(_ path: String) throws(AdapterError) {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        throw .writeFailed(path: path, reason: error.localizedDescription)
    }
}
