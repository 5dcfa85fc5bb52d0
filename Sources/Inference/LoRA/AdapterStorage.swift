/// The 64-byte-aligned allocation holding all of an adapter's factors.
///
/// Storage of `AdapterMemory.hugePageBytes` or more is carved from `AdapterMemory.shared`,
/// which keeps memory mapped and touched across loads and backs it with transparent huge
/// pages (fewer TLB entries for the kernels streaming the factors); it goes back there when
/// the adapter is released. The resident bytes are the byte count rounded up to a page.
/// Smaller storage comes from the heap.
final class AdapterStorage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// The pool's region, or nil for heap storage.
    private let region: AdapterMemory.Region?

    /// Whether the storage came from `AdapterMemory.shared`.
    var isPooled: Bool { region != nil }

    init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= AdapterMemory.hugePageBytes, let region = AdapterMemory.shared.take(byteCount: byteCount) {
            base = region.base
            self.region = region
        } else {
            base = .allocate(byteCount: max(1, byteCount), alignment: 64)
            region = nil
        }
    }

    deinit {
        if let region { AdapterMemory.shared.give(region) } else { base.deallocate() }
    }
}
