/// A set that keeps at most `capacity` elements, forgetting the oldest insertion first.
///
/// Removal is lazy in the insertion order: an element removed and inserted again may be
/// forgotten a little early, when its first insertion ages out. For the sets it backs (ids a
/// peer is known to hold, ids already seen) forgetting early only costs a repeated message.
public struct BoundedSet<Element: Hashable & Sendable>: Sendable {
    public let capacity: Int
    private var members: Set<Element> = []
    private var order: [Element] = []
    private var oldest = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a bounded set needs room for one element")
        self.capacity = capacity
    }

    public var count: Int { members.count }

    public func contains(_ element: Element) -> Bool { members.contains(element) }

    /// Inserts `element`; returns false if it was already present.
    @discardableResult
    public mutating func insert(_ element: Element) -> Bool {
        guard members.insert(element).inserted else { return false }
        if order.count < capacity {
            order.append(element)
        } else {
            members.remove(order[oldest])
            order[oldest] = element
            oldest = (oldest + 1) % capacity
        }
        assert(members.count <= capacity, "bounded set over capacity")
        return true
    }

    public mutating func remove(_ element: Element) { members.remove(element) }
}
