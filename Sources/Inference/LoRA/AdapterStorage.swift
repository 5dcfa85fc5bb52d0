import Foundation

/// The 64-byte-aligned allocation holding all of an adapter's factors.
///
/// Storage of `hugePageBytes` or more is mapped on its own, starting on a huge-page boundary,
/// and the kernel is asked to back it with transparent huge pages (`MADV_HUGEPAGE`): the
/// first touch then costs a fault per 2 MB instead of per 4 KB (on the test VM about a fifth
/// of the time, see docs/lora.md), and the kernels streaming the factors need far fewer TLB
/// entries. Only whole huge pages inside the map are backed that way, so the resident bytes
/// stay the byte count rounded up to a page.
/// Smaller storage comes from the heap.
final class AdapterStorage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// Bytes of the private map, or 0 for heap storage.
    private let mappedBytes: Int

    /// Size and alignment of a transparent huge page (x86-64's; elsewhere the advice is
    /// only a hint the kernel may ignore).
    static let hugePageBytes = 2 << 20

    init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= Self.hugePageBytes, let (base, bytes) = Self.mapAlignedToHugePage(byteCount) {
            self.base = base
            mappedBytes = bytes
        } else {
            base = .allocate(byteCount: max(1, byteCount), alignment: 64)
            mappedBytes = 0
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(base, mappedBytes) } else { base.deallocate() }
    }

    /// Maps `byteCount` bytes (rounded up to whole pages) of anonymous memory at a huge-page
    /// boundary, advised for huge pages; nil if the system refuses the map.
    private static func mapAlignedToHugePage(_ byteCount: Int) -> (UnsafeMutableRawPointer, Int)? {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = (byteCount + page - 1) / page * page
        // Reserve a huge page more than needed, then give back what lies before the boundary and after the end.
        let reserved = length + hugePageBytes
        guard let start = mmap(nil, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), start != MAP_FAILED else { return nil }
        let lead = (hugePageBytes - Int(bitPattern: start) % hugePageBytes) % hugePageBytes
        let aligned = start + lead
        if lead > 0 { munmap(start, lead) }
        munmap(aligned + length, reserved - lead - length)
        madvise(aligned, length, MADV_HUGEPAGE)
        return (aligned, length)
    }
}
