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

/// Size, modification time and inode of one file, to notice that it changed.
struct FileFingerprint: Equatable {
    let path: String
    let size: Int
    let modified: Date
    let inode: Int

    /// The fingerprints of the files an adapter is read from.
    static func of(adapterAt path: String) throws(AdapterError) -> [FileFingerprint] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .missingFile(path) }
        let folder = URL(fileURLWithPath: path)
        let files = isDirectory.boolValue
            ? [PEFTReader.configName, PEFTReader.weightsName].map { folder.appendingPathComponent($0).path } : [path]
        var prints: [FileFingerprint] = []
        for file in files {
            // Through symbolic links: the file read is the one that must not change.
            let resolved = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved) else { throw .missingFile(file) }
            prints.append(FileFingerprint(
                path: file, size: (attributes[.size] as? NSNumber)?.intValue ?? -1,
                modified: attributes[.modificationDate] as? Date ?? .distantPast,
                inode: (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? -1))
        }
        return prints
    }
}
