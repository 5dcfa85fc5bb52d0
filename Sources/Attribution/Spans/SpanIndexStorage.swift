import Inference

/// The bytes of one span index (`SpanIndexLayout`): an allocation filled by the builder, or a
/// read-only map of a checked file. Never written after construction, so it is shared freely.
final class SpanIndexStorage: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    let layout: SpanIndexLayout
    /// D + 1 stream positions, little-endian.
    let documentStarts: UnsafePointer<UInt32>
    /// S tokens and separators, little-endian.
    let stream: UnsafePointer<UInt32>
    /// S − D stream positions, little-endian.
    let suffixes: UnsafePointer<UInt32>
    /// The map the bytes live in; nil when they are this object's own allocation.
    private let mappedFile: MappedFile?

    /// Takes ownership of `allocation`, which holds an image laid out as `layout`.
    convenience init(allocation: UnsafeMutableRawBufferPointer, layout: SpanIndexLayout) {
        self.init(bytes: UnsafeRawBufferPointer(allocation), layout: layout, mappedFile: nil)
    }

    /// Reads the image in place from `file`, which holds exactly `layout`'s bytes.
    convenience init(mappedFile: MappedFile, layout: SpanIndexLayout) {
        self.init(bytes: UnsafeRawBufferPointer(start: mappedFile.base, count: mappedFile.size), layout: layout, mappedFile: mappedFile)
    }

    private init(bytes: UnsafeRawBufferPointer, layout: SpanIndexLayout, mappedFile: MappedFile?) {
        precondition(bytes.count == layout.totalBytes, "span index image of \(bytes.count) bytes, layout needs \(layout.totalBytes)")
        let base = bytes.baseAddress!
        precondition(Int(bitPattern: base) % MemoryLayout<UInt32>.alignment == 0, "span index image is not 4-byte aligned")
        self.bytes = bytes
        self.layout = layout
        self.mappedFile = mappedFile
        documentStarts = (base + layout.documentStartsOffset).bindMemory(to: UInt32.self, capacity: layout.documentCount + 1)
        stream = (base + layout.streamOffset).bindMemory(to: UInt32.self, capacity: layout.streamCount)
        suffixes = (base + layout.suffixesOffset).bindMemory(to: UInt32.self, capacity: layout.suffixCount)
    }

    deinit {
        if mappedFile == nil { UnsafeMutableRawBufferPointer(mutating: bytes).deallocate() }
    }
}
