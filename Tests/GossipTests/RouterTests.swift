import Crypto
import Gossip
import Testing

@Suite struct RouterTests {
    @Test func placeholder() {}
}
