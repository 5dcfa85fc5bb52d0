/// The keys and values one sequence has produced so far, for every layer, in float32.
///
/// Layout per layer: keys `[kvHead][position][headDimension]`, then values the same, so
/// attention for one head reads contiguous memory. Capacity grows by doubling.
public final class KVCache {
    /// The shape of the model whose keys and values this holds.
    public let configuration: LlamaConfiguration
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    /// Positions allocated.
    private(set) var capacity = 0
    private var storage: UnsafeMutablePointer<Float>?

    /// Positions allocated by the first growth.
    static let initialCapacity = 64

    /// An empty cache; memory is allocated as positions are added.
    public init(configuration: LlamaConfiguration) {
        self.configuration = configuration
    }

    deinit { storage?.deallocate() }

    /// Floats per layer for `capacity` positions (keys and values).
    private func layerFloats(_ capacity: Int) -> Int {
        2 * configuration.kvHeadCount * capacity * configuration.headDimension
    }

    /// Makes room for positions up to `length` (exclusive), keeping what is stored.
    func reserve(_ length: Int) {
        guard length > capacity else { return }
        var newCapacity = max(capacity, Self.initialCapacity)
        while newCapacity < length { newCapacity *= 2 }
        let fresh = UnsafeMutablePointer<Float>.allocate(capacity: configuration.layerCount * layerFloats(newCapacity))
        if let storage {
            let d = configuration.headDimension
            for layer in 0..<configuration.layerCount {
                for plane in 0..<(2 * configuration.kvHeadCount) {
                    let from = storage + layer * layerFloats(capacity) + plane * capacity * d
                    let to = fresh + layer * layerFloats(newCapacity) + plane * newCapacity * d
                    to.update(from: from, count: self.length * d)
                }
            }
            storage.deallocate()
        }
        storage = fresh
        capacity = newCapacity
    }

    /// Keys of `layer` for `kvHead`: `capacity` rows of `headDimension` floats.
    func keys(layer: Int, kvHead: Int) -> UnsafeMutablePointer<Float> {
        storage! + layer * layerFloats(capacity) + kvHead * capacity * configuration.headDimension
    }

    /// Values of `layer` for `kvHead`, laid out like `keys`.
    func values(layer: Int, kvHead: Int) -> UnsafeMutablePointer<Float> {
        keys(layer: layer, kvHead: configuration.kvHeadCount + kvHead)
    }

    /// Bytes held.
    public var byteCount: Int { storage == nil ? 0 : configuration.layerCount * layerFloats(capacity) * 4 }

    /// Forgets every position from `length` on, so the sequence can continue differently.
    public func truncate(to length: Int) {
        precondition((0...self.length).contains(length), "truncate(to: \(length)) outside 0...\(self.length)")
        self.length = length
    }
}
