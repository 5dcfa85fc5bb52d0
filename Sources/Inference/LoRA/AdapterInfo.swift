import Foundation

/// What the store knows about one registered adapter.
public struct AdapterInfo: Sendable, Equatable {
    /// The adapter's content hash (`LoRAAdapter.id`).
    public let id: String
    public let name: String
    /// The PEFT directory or GGUF file it is read from.
    public let path: String
    /// Bytes it holds when resident.
    public let byteCount: Int
    /// Its distinct ranks, ascending.
    public let ranks: [Int]
    /// The projections it adapts (in some layer), in `Projection.allCases` order.
    public let targetModules: [Projection]
    /// Whether it was resident when this value was read.
    public internal(set) var isResident = false

    init(_ adapter: LoRAAdapter, path: String) {
        id = adapter.id
        name = adapter.name
        self.path = path
        byteCount = adapter.byteCount
        ranks = Set(adapter.targets.map(\.rank)).sorted()
        let modules = Set(adapter.targets.map(\.projection))
        targetModules = Projection.allCases.filter(modules.contains)
    }
}

/// Size, modification time, inode and device of one file, to notice that it changed.
struct FileFingerprint: Equatable {
    let path: String
    let size: Int
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int
    let inode: UInt
    let device: UInt

    /// The fingerprints of the files an adapter is read from (through symbolic links: the
    /// file read is the one that must not change).
    static func of(adapterAt path: String) throws(AdapterError) -> [FileFingerprint] {
        let top = try of(file: path)
        guard top.isDirectory else { return [top.fingerprint] }
        let folder = path.hasSuffix("/") ? path : path + "/"
        return try [PEFTReader.configName, PEFTReader.weightsName].map { name throws(AdapterError) in try of(file: folder + name).fingerprint }
    }

    private static func of(file: String) throws(AdapterError) -> (fingerprint: FileFingerprint, isDirectory: Bool) {
        var status = stat()
        guard stat(file, &status) == 0 else { throw .missingFile(file) }
        let fingerprint = FileFingerprint(
            path: file, size: Int(status.st_size), modifiedSeconds: status.st_mtim.tv_sec, modifiedNanoseconds: status.st_mtim.tv_nsec,
            inode: UInt(status.st_ino), device: UInt(status.st_dev))
        return (fingerprint, status.st_mode & S_IFMT == S_IFDIR)
    }
}
