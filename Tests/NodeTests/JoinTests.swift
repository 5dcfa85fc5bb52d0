import Crypto
import Foundation
import Ledger
import Testing

extension ClusterSuites {
    /// A node joins a running network of processes: it block-syncs a long history from one peer,
    /// follows consensus, stakes into the validator set; then an original validator leaves.
    @Suite struct JoinTests {
        static let historyBlocks = 10_000

        @Test(.timeLimit(.minutes(6))) func aFreshNodeSyncsStakesInAndAValidatorLeaves() throws {
            let cluster = try Cluster(testnetArguments: ["--history-blocks", String(Self.historyBlocks)])
            let validators = Array(0..<4)
            // Given only the genesis and node0 as its peer, the new node block-syncs the history.
            let joined = try cluster.addFullNode(peers: [0])
            try cluster.waitUntil("the new node synced \(Self.historyBlocks) blocks", timeoutSeconds: 120) {
                let status = try cluster.status(joined)
                return status["catching_up"] as? Bool == false && status["height"] as! Int >= Self.historyBlocks
            }
            let log = cluster.node(joined)!.log
            #expect(log.contains("block sync height="), "no progress line: \(log.suffix(2_000))")
            #expect(log.contains("block sync finished; following consensus"))
            #expect(try cluster.status(joined)["sync_target_height"] as? Int ?? 0 >= Self.historyBlocks)

            // It follows consensus: a transfer sent to it commits everywhere, same chain.
            try cluster.waitCommitted(try cluster.transfer(via: joined), on: validators + [joined])
            _ = try cluster.expectSameChain([0, joined])

            // Stopped while the chain moves 20 heights on, it resumes far behind: back to block sync,
            // then consensus again.
            cluster.signal(joined, SIGSTOP)
            for _ in 0..<20 { try cluster.waitCommitted(try cluster.transfer(via: 0), on: [0]) }
            cluster.signal(joined, SIGCONT)
            try cluster.waitCommitted(try cluster.transfer(via: 1), on: validators + [joined])
            let resumedLog = cluster.node(joined)!.log
            #expect(resumedLog.contains("fell behind; block sync"))
            #expect(resumedLog.components(separatedBy: "block sync finished; following consensus").count == 3)

            // Funded, it stakes as much as each original validator and certifies blocks from H+2.
            let newKey = try KeyFile.read(from: cluster.home(joined) + "/validator.key")
            let stake = 10_000 * OPEN.atomicUnitsPerOPEN
            try cluster.waitCommitted(try cluster.transfer(via: 0, amount: stake + 10 * OPEN.atomicUnitsPerOPEN, to: newKey.publicKey),
                                      on: validators + [joined])
            let staked = try cluster.waitCommitted(
                try cluster.submit(sign(.stake(amount: stake), by: newKey, nonce: 0, cluster), via: joined), on: validators + [joined])
            // Blocks come only with transactions: two more heights put the new set in force.
            try advance(cluster, beyond: staked + 1, via: 0)
            #expect(try validatorSet(cluster, 0).count == 5)
            #expect(try validatorSet(cluster, joined)[newKey.publicKey.hex] == 10_000)
            let signedByNew = try waitForCertificate(cluster, after: staked + 1, on: joined) { $0.contains(newKey.publicKey.hex) }
            #expect(signedByNew > staked + 1)

            // An original validator unstakes everything: it leaves the set, the other four go on.
            let leaving = try KeyFile.read(from: cluster.home(3) + "/validator.key")
            let unstaked = try cluster.waitCommitted(
                try cluster.submit(sign(.unstake(amount: stake), by: leaving, nonce: 0, cluster), via: 3), on: validators + [joined])
            try advance(cluster, beyond: unstaked + 1, via: 0)
            let remaining = try validatorSet(cluster, 0)
            #expect(remaining.count == 4 && remaining[leaving.publicKey.hex] == nil)
            // The network keeps committing, node3 (now a full node) included, and from H+2 on no
            // certificate carries node3's signature.
            var top = 0
            for _ in 0..<3 { top = try cluster.waitCommitted(try cluster.transfer(via: joined), on: validators + [joined]) }
            #expect(top >= unstaked + 2)
            for height in (unstaked + 2)...top {
                #expect(!(try signers(cluster, 0, height)).contains(leaving.publicKey.hex), "node3 signed height \(height)")
            }
            _ = try cluster.expectSameChain([0, 3, joined])
            #expect(cluster.stopAll().allSatisfy { $0 == 0 })
        }

        @Test(.timeLimit(.minutes(3))) func aNodeGivenOnlyASeedFindsEveryPeer() throws {
            let cluster = try Cluster()
            try cluster.waitUntil("the validators connected", timeoutSeconds: 20) {
                try (0..<4).allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            // Each validator advertises its address in a signed record, which its peers keep and
            // hand to every node that connects: the seed's peers become the new node's.
            let joined = try cluster.addFullNode(peers: [], seeds: [0])
            try cluster.waitUntil("the new node connected to all four validators", timeoutSeconds: 60) {
                try cluster.status(joined)["peers"] as? Int == 4
            }
            try cluster.waitCommitted(try cluster.transfer(via: joined), on: [0, 1, 2, 3, joined])
            #expect(cluster.node(joined)!.stop() == 0)
            let book = try String(contentsOfFile: cluster.home(joined) + "/addrbook.json", encoding: .utf8)
            for index in 0..<4 { #expect(book.contains(try cluster.nodeID(index).hex + "@127.0.0.1:\(cluster.p2pPort(index))")) }
        }

        private func sign(_ body: TransactionBody, by key: SigningKey, nonce: UInt64, _ cluster: Cluster) -> SignedTransaction {
            Transaction(sender: key.publicKey, nonce: nonce, fee: 1_000, body: body).signed(by: key, chainID: cluster.chainID)
        }

        /// `GET /v1/validators` on node `index`: power by address.
        private func validatorSet(_ cluster: Cluster, _ index: Int) throws -> [String: Int] {
            let answer = try HTTP.get("\(cluster.url(index))/v1/validators").json
            let members = answer["validators"] as! [[String: Any]]
            #expect(members.allSatisfy { $0["stake"] is String })
            return Dictionary(uniqueKeysWithValues: members.map { ($0["address"] as! String, $0["power"] as! Int) })
        }

        /// Sends transfers through node `index` until it has committed a block above `height`.
        private func advance(_ cluster: Cluster, beyond height: Int, via index: Int) throws {
            while try cluster.waitCommitted(try cluster.transfer(via: index), on: [index]) <= height {}
        }

        /// The validators whose signatures certify block `height` on node `index`.
        private func signers(_ cluster: Cluster, _ index: Int, _ height: Int) throws -> Set<String> {
            let block = try HTTP.get("\(cluster.url(index))/v1/blocks/\(height)").json
            let signatures = (block["certificate"] as! [String: Any])["signatures"] as! [[String: Any]]
            return Set(signatures.map { $0["validator"] as! String })
        }

        /// Sends transfers until a block above `height` on node `index` has a certificate whose
        /// signers satisfy `condition`; returns its height.
        private func waitForCertificate(_ cluster: Cluster, after height: Int, on index: Int,
                                        _ condition: (Set<String>) -> Bool) throws -> Int {
            var found = 0
            try cluster.waitUntil("a certificate above \(height) as wanted", timeoutSeconds: 60) {
                let top = try cluster.waitCommitted(try cluster.transfer(via: index), on: [index])
                for blockHeight in stride(from: top, to: height, by: -1) {
                    if condition(try signers(cluster, index, blockHeight)) {
                        found = blockHeight
                        return true
                    }
                }
                return false
            }
            return found
        }
    }
}
