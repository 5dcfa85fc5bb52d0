import Foundation

/// Whole-file replacement that survives a crash: the new contents go to `<path>.tmp`, are
/// flushed to the disk (`fsync`) and renamed over `path`, so a reader (or a restart) finds the
/// old file or the new one, never part of one. The checkpoint, adapters' files, the
/// attribution index and the span index are written this way.
public enum DurableFile {
    /// Replaces `path` with `bytes`.
    public static func replace(_ path: String, with bytes: UnsafeRawBufferPointer) throws(AdapterError) {
        try replace(path) { (sink: FileSink) throws(AdapterError) in try sink.write(bytes) }
    }

    /// Replaces `path` with what `body` writes into the temporary file.
    static func replace(_ path: String, _ body: (FileSink) throws(AdapterError) -> Void) throws(AdapterError) {
        let temporary = path + ".tmp"
        do {
            let sink = try FileSink(path: temporary)
            try body(sink)
            try sink.sync()
            try sink.close()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .writeFailed(path: path, reason: reason)
        }
    }
}
