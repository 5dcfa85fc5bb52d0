import Attribution
import Testing

@Suite struct RecentlyUsedTests {
    /// A hit loads nothing and becomes the most recent; a load past the capacity evicts the
    /// least recently used, not the oldest loaded.
    @Test func aHitMovesToTheFrontAndTheLeastRecentlyUsedGoes() {
        var cache = RecentlyUsed<Int>(capacity: 2)
        var loads = 0
        func value(_ key: String) -> Int {
            cache.value(for: key) {
                loads += 1
                return loads
            }
        }
        #expect(value("a") == 1 && value("b") == 2 && cache.keys == ["b", "a"])
        #expect(value("a") == 1 && loads == 2 && cache.keys == ["a", "b"])
        #expect(value("c") == 3 && cache.keys == ["c", "a"])
        #expect(value("a") == 1 && value("b") == 4 && cache.keys == ["b", "a"])
    }
}
