import Foundation

/// A read-only memory map of a whole file. Weights are used in place from the map, so a
/// model is never copied into the heap; the map lives as long as anything references it.
/// Every user reads its file whole, so the kernel is asked to read all of it ahead at once
/// (`MADV_WILLNEED`): large reads in flight together instead of a wait per faulting page's
/// readahead window (adapters are read out of file order). The head, where formats keep
/// their header, is asked for first and alone, so that parsing it can start while the rest
/// is still on its way; the rest is asked for on a helper thread, because submitting reads
/// of megabytes itself takes a millisecond or two.
public final class MappedFile: @unchecked Sendable {
    /// First byte of the map (never written: the map is `PROT_READ`).
    public let base: UnsafeRawPointer
    /// Size of the file in bytes.
    public let size: Int
    /// The path the file was opened from.
    public let path: String

    /// Maps `path` read-only. Empty files are rejected because `mmap` cannot map zero bytes.
    public init(path: String) throws(ModelFileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else { throw .truncated(what: "file header", offset: 0, length: 1, size: 0) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), map != MAP_FAILED else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        madvise(map, min(Self.headBytes, size), MADV_WILLNEED)
        self.base = UnsafeRawPointer(map)
        self.size = size
        self.path = path
        if size > Self.headBytes {
            // The closure holds the file, so the range stays mapped until the advice is given.
            DispatchQueue.global(qos: .userInitiated).async { self.readAhead(from: Self.headBytes) }
        }
    }

    /// Bytes at the start of the file asked for before the rest.
    static let headBytes = 64 << 10
    /// Bytes asked ahead per `MADV_WILLNEED` call: the kernel trims one request to the
    /// device's largest I/O (4 MB on a typical virtio disk), so larger files take several.
    static let readAheadChunkBytes = 2 << 20

    private func readAhead(from start: Int) {
        var chunk = start
        while chunk < size {
            madvise(UnsafeMutableRawPointer(mutating: base) + chunk, min(Self.readAheadChunkBytes, size - chunk), MADV_WILLNEED)
            chunk += Self.readAheadChunkBytes
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    /// A checked view of `length` bytes at `offset`.
    public func bytes(at offset: Int, length: Int, what: String) throws(ModelFileError) -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= size, length <= size - offset else {
            throw .truncated(what: what, offset: offset, length: length, size: size)
        }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}
