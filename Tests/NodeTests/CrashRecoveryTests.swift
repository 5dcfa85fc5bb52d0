import Crypto
import Foundation
import Ledger
import Testing

extension ClusterSuites {
    /// Kills a real node process with SIGKILL while transfers stream in, restarts it, and checks
    /// that nothing it reported committed was lost and that its state equals a replay from genesis.
    @Suite struct CrashRecoveryTests {
        @Test(.timeLimit(.minutes(3))) func sigkillDuringTransfersLosesNoCommittedTransaction() throws {
            let directory = Tributary.temporaryDirectory("crash")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let home = directory + "/home"
            let senders = (0..<4).map { _ in SigningKey() }
            let recipient = SigningKey().publicKey
            let initialized = try Tributary.run(
                ["init", "--home", home, "--chain-id", "crashnet", "--validator-key", directory + "/validator.key",
                 "--block-interval-ms", "15"] + senders.flatMap { ["--fund", "\($0.publicKey.hex)=1000000"] })
            #expect(initialized.status == 0, "\(initialized.stderr)")

            var committed: [String: Int] = [:]  // tx hash → height, as reported by the node before a crash
            var random = SystemRandomNumberGenerator()
            for cycle in 0..<4 {
                let node = try NodeProcess(home: home, port: Tributary.freePort())
                try expectStillCommitted(committed, on: node)
                var heightSeen = (try HTTP.get("\(node.url)/v1/status")).json["height"] as! Int
                var nonces = try senders.map { try nonce(of: $0, on: node) }
                let killAt = Date().addingTimeInterval(Double.random(in: 0.6...1.6, using: &random))
                var submitted = 0
                while Date() < killAt {
                    for (index, sender) in senders.enumerated() {
                        let transfer = Transaction(sender: sender.publicKey, nonce: nonces[index], fee: 1_000,
                                                   body: .transfer(to: recipient, amount: 1 + UInt64(submitted)))
                            .signed(by: sender, chainID: "crashnet")
                        let answer = try HTTP.post("\(node.url)/v1/txs", json: transfer.submission)
                        if answer.status == 202 {
                            nonces[index] += 1
                            submitted += 1
                        } else {
                            #expect(answer.status == 409 || answer.status == 503, "unexpected answer \(answer.status): \(answer.json)")
                            nonces[index] = try nonce(of: sender, on: node)
                        }
                    }
                    heightSeen = try recordCommitted(from: node, after: heightSeen, into: &committed)
                }
                #expect(submitted > 0)
                node.stop(signal: SIGKILL)
                print("cycle \(cycle): submitted \(submitted), \(committed.count) committed so far, killed at height ≥ \(heightSeen)")
            }

            let node = try NodeProcess(home: home, port: Tributary.freePort())
            try expectStillCommitted(committed, on: node)
            #expect(committed.count > 20)
            #expect(node.stop(signal: SIGINT) == 0, "clean stop failed: \(node.log)")

            let replay = try Tributary.run(["replay", "--home", home, "--json"])
            #expect(replay.status == 0, "replay failed: \(replay.stderr)")
            #expect(replay.stdout.contains("\"ok\":true"))
        }

        /// A validator restarted while its peers commit the last block of a burst comes back one
        /// height behind a network that then goes quiet (blocks are made only for transactions):
        /// no later message tells its engine it is behind, and gossip re-sends only the current
        /// height's messages. It fetches the block it lacks instead of waiting for traffic.
        @Test(.timeLimit(.minutes(3))) func validatorRestartedBehindAnIdleNetworkCatchesUp() throws {
            let cluster = try Cluster()
            try cluster.waitUntil("the validators connected", timeoutSeconds: 20) {
                try (0..<4).allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            try cluster.waitCommitted(try cluster.transfer(via: 1), on: [0, 1, 2, 3])
            cluster.kill(0)
            let missed = try cluster.waitCommitted(try cluster.transfer(via: 1), on: [1, 2, 3])
            try cluster.start(0)
            try cluster.waitUntil("node0 reached the height it missed, \(missed), with no new transaction", timeoutSeconds: 30) {
                try cluster.height(0) >= missed
            }
            #expect(try cluster.height(1) == missed, "the network made blocks meanwhile: the test no longer shows a quiet network")
            #expect(cluster.stopAll() == [0, 0, 0, 0])
        }

        private func nonce(of key: SigningKey, on node: NodeProcess) throws -> UInt64 {
            UInt64(try HTTP.get("\(node.url)/v1/accounts/\(key.publicKey.hex)").json["pending_nonce"] as! Int)
        }

        /// Reads the blocks above `height` and records their transactions; returns the new height.
        private func recordCommitted(from node: NodeProcess, after height: Int, into committed: inout [String: Int]) throws -> Int {
            let latest = try HTTP.get("\(node.url)/v1/status").json["height"] as! Int
            guard latest > height else { return height }
            for blockHeight in (height + 1)...latest {
                let block = try HTTP.get("\(node.url)/v1/blocks/\(blockHeight)").json
                for transaction in block["transactions"] as! [[String: Any]] {
                    committed[transaction["hash"] as! String] = blockHeight
                }
            }
            return latest
        }

        private func expectStillCommitted(_ committed: [String: Int], on node: NodeProcess) throws {
            for (hash, height) in committed {
                let answer = try HTTP.get("\(node.url)/v1/txs/\(hash)").json
                #expect(answer["status"] as? String == "committed" && answer["height"] as? Int == height,
                        "transaction \(hash) committed at \(height) before the crash: now \(answer)")
            }
        }
    }
}
