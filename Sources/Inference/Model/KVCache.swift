/// The keys and values one sequence has produced so far, for every layer, in float32 or, to
/// halve the memory attention reads, in IEEE half precision.
///
/// Layout per layer: keys `[kvHead][position][headDimension]`, then values the same, so
/// attention for one head reads contiguous memory. Capacity grows by doubling.
public final class KVCache {
    /// How keys and values are stored.
    public enum Precision: Sendable {
        case float32
        /// IEEE binary16: half the bytes, about three significant digits.
        case float16

        var byteWidth: Int { self == .float32 ? 4 : 2 }
    }

    /// The shape of the model whose keys and values this holds.
    public let configuration: LlamaConfiguration
    /// How keys and values are stored.
    public let precision: Precision
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    /// Positions allocated.
    private(set) var capacity = 0
    private var storage: UnsafeMutableRawPointer?
    /// Where the forward pass records this sequence's activations (see `RecordedSequence`).
    var record: ForwardRecord?

    /// Positions allocated by the first growth.
    static let initialCapacity = 64

    /// An empty cache; memory is allocated as positions are added.
    public init(configuration: LlamaConfiguration, precision: Precision = .float32) {
        self.configuration = configuration
        self.precision = precision
    }

    deinit { storage?.deallocate() }

    /// Bytes per layer for `capacity` positions (keys and values).
    private func layerBytes(_ capacity: Int) -> Int {
        2 * configuration.kvHeadCount * capacity * configuration.headDimension * precision.byteWidth
    }

    /// Makes room for positions up to `length` (exclusive), keeping what is stored.
    func reserve(_ length: Int) {
        guard length > capacity else { return }
        var newCapacity = max(capacity, Self.initialCapacity)
        while newCapacity < length { newCapacity *= 2 }
        let bytes = configuration.layerCount * layerBytes(newCapacity)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        switch precision {
        case .float32: fresh.bindMemory(to: Float.self, capacity: bytes / 4)
        case .float16: fresh.bindMemory(to: Float16.self, capacity: bytes / 2)
        }
        if let storage {
            let rowBytes = configuration.headDimension * precision.byteWidth
            for layer in 0..<configuration.layerCount {
                for plane in 0..<(2 * configuration.kvHeadCount) {
                    let from = storage + layer * layerBytes(capacity) + plane * capacity * rowBytes
                    let to = fresh + layer * layerBytes(newCapacity) + plane * newCapacity * rowBytes
                    to.copyMemory(from: from, byteCount: self.length * rowBytes)
                }
            }
            storage.deallocate()
        }
        storage = fresh
        capacity = newCapacity
    }

    /// Keys of `layer` for `kvHead`: `capacity` rows of `headDimension` values, bound to
    /// `Float` or `Float16` as `precision` says.
    func keys(layer: Int, kvHead: Int) -> UnsafeMutableRawPointer {
        storage! + layer * layerBytes(capacity) + kvHead * capacity * configuration.headDimension * precision.byteWidth
    }

    /// Values of `layer` for `kvHead`, laid out like `keys`.
    func values(layer: Int, kvHead: Int) -> UnsafeMutableRawPointer {
        keys(layer: layer, kvHead: configuration.kvHeadCount + kvHead)
    }

    /// Stores one head's `headDimension` floats as row `position` of `plane` (from `keys` or `values`).
    func store(_ vector: UnsafePointer<Float>, into plane: UnsafeMutableRawPointer, position: Int) {
        let d = configuration.headDimension
        switch precision {
        case .float32:
            (plane.assumingMemoryBound(to: Float.self) + position * d).update(from: vector, count: d)
        case .float16:
            let row = plane.assumingMemoryBound(to: Float16.self) + position * d
            for i in 0..<d { row[i] = Float16(vector[i]) }
        }
    }

    /// Bytes held.
    public var byteCount: Int { storage == nil ? 0 : configuration.layerCount * layerBytes(capacity) }

    /// Forgets every position from `length` on, so the sequence can continue differently.
    public func truncate(to length: Int) {
        precondition((0...self.length).contains(length), "truncate(to: \(length)) outside 0...\(self.length)")
        self.length = length
    }
}
