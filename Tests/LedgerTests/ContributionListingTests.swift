import Crypto
import Foundation
import Ledger
import Testing

/// `ChainStore.contributions(to:after:limit:)`: one datanet's committed contributions from the
/// state in RocksDB, in content-hash order, in pages.
struct ContributionListingTests {
    @Test func listsOneDatanetInHashOrderAndPages() throws {
        let alice = SigningKey()
        let bob = SigningKey()
        let chain = try TestChain(funded: [alice, bob])
        let first = DatanetID.derive(creator: alice.publicKey, nonce: 0)
        let second = DatanetID.derive(creator: alice.publicKey, nonce: 1)
        try chain.commit([chain.sign(.registerDatanet(name: "first", description: ""), by: alice, nonce: 0),
                          chain.sign(.registerDatanet(name: "second", description: ""), by: alice, nonce: 1)])
        func hashes(_ label: String, _ count: Int) -> [Digest] { (0..<count).map { Digest.blake2b(Array("\(label) \($0)".utf8)) } }
        let firstHashes = hashes("first", 5)
        let secondHashes = hashes("second", 3)
        let block = try chain.commit(
            firstHashes.enumerated().map { chain.sign(.contribute(datanet: first, contentHash: $1, sizeBytes: UInt64(10 + $0)), by: bob, nonce: UInt64($0)) }
            + secondHashes.enumerated().map { chain.sign(.contribute(datanet: second, contentHash: $1, sizeBytes: 1), by: alice, nonce: UInt64(2 + $0)) })
        #expect(block.rejected.isEmpty)
        let height = block.block.header.height

        let all = chain.store.contributions(to: first, after: nil, limit: 100)
        #expect(all.map(\.contentHash) == firstHashes.sorted())
        #expect(all.allSatisfy { $0.contribution.contributor == bob.publicKey && $0.contribution.height == height })
        #expect(Set(all.map(\.contribution.sizeBytes)) == Set(10...14))
        #expect(chain.store.contributions(to: second, after: nil, limit: 100).map(\.contentHash) == secondHashes.sorted())

        // Pages of two, each after the last of the one before.
        var paged: [Digest] = []
        var cursor: Digest?
        repeat {
            let page = chain.store.contributions(to: first, after: cursor, limit: 2)
            #expect(page.count <= 2)
            paged += page.map(\.contentHash)
            cursor = page.count == 2 ? page.last!.contentHash : nil
        } while cursor != nil
        #expect(paged == firstHashes.sorted())

        // A cursor that is no contribution starts at the next hash after it.
        let sorted = firstHashes.sorted()
        let between = Digest(Bytes32(sorted[1].bytes.dropLast() + [sorted[1].bytes.last! &+ 1])!)
        try #require(sorted[1] < between && between < sorted[2])
        #expect(chain.store.contributions(to: first, after: between, limit: 100).map(\.contentHash) == Array(sorted[2...]))
        #expect(chain.store.contributions(to: first, after: sorted.last!, limit: 100).isEmpty)
        #expect(chain.store.contributions(to: first, after: nil, limit: 0).isEmpty)
        #expect(chain.store.contributions(to: Digest.blake2b([1, 2, 3]), after: nil, limit: 100).isEmpty)
    }
}
