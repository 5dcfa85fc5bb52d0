import Crypto
import Foundation
import Gossip
import Ledger
import Testing

extension ClusterSuites {
    /// Peer scores against real validator processes: a peer that floods copies is banned — with
    /// the host it connected from, so a fresh node id from there is refused too, while loopback
    /// peers never are — and the ban outlives a restart, and so is one that asks for blocks
    /// beyond the rate limit; honest peers under load, throttled by the receive rate limit, are not.
    @Suite struct PeerScoreTests {
        @Test(.timeLimit(.minutes(4))) func aSpammingPeerIsBannedAcrossRestarts() throws {
            let cluster = try Cluster()
            try cluster.waitUntil("the validators connected", timeoutSeconds: 20) {
                try (0..<4).allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            let spammerKey = SigningKey(), host = try HostileClient.nonLoopbackIPv4()
            let spammer = try HostileClient(port: cluster.p2pPort(0), nodeKey: spammerKey, sourceHost: host)
            try spammer.handshake(chainID: cluster.chainID)
            // One valid transaction, then copy after copy of it: each copy costs a point.
            let transfer = cluster.signTransfer()
            spammer.send(.items([transfer.canonicalBytes]), on: .transactions)
            try cluster.waitCommitted(transfer.hash.hex, on: [0, 1, 2, 3])
            for _ in 0..<15 { spammer.send(.items(Array(repeating: transfer.canonicalBytes, count: 100)), on: .transactions) }
            #expect(spammer.isClosedByNode())
            try cluster.waitUntil("a ban counted", timeoutSeconds: 10) { try cluster.metric(0, "tributary_p2p_peers_banned_total") == 1 }
            #expect(try cluster.metric(0, "tributary_p2p_peers_banned") == 1)
            // The ban is counted before its file is written: wait for the file, not the counter.
            try cluster.waitUntil("the ban written", timeoutSeconds: 10) {
                let bans = (try? String(contentsOfFile: cluster.home(0) + "/peer_bans.json", encoding: .utf8)) ?? ""
                return bans.contains(spammerKey.publicKey.hex) && bans.contains("until_ms") && bans.contains("\"\(host)\"")
            }
            #expect(try refused(spammerKey, port: cluster.p2pPort(0), chainID: cluster.chainID))
            #expect(try refused(SigningKey(), port: cluster.p2pPort(0), chainID: cluster.chainID, sourceHost: host), "a fresh id from the banned host")
            try cluster.waitUntil("the host's refusal counted", timeoutSeconds: 10) {
                try cluster.metric(0, #"tributary_p2p_handshake_failures_total{reason="host_banned"}"#) >= 1
            }
            #expect(try !refused(SigningKey(), port: cluster.p2pPort(0), chainID: cluster.chainID), "a fresh id from loopback")

            // Restarted, node0 still refuses it; the network never stopped committing.
            #expect(cluster.node(0)!.stop() == 0)
            try cluster.start(0)
            try cluster.waitCommitted(try cluster.transfer(via: 0), on: [0, 1, 2, 3])
            #expect(try refused(spammerKey, port: cluster.p2pPort(0), chainID: cluster.chainID))
            #expect(try refused(SigningKey(), port: cluster.p2pPort(0), chainID: cluster.chainID, sourceHost: host), "the host's ban outlives the restart")
            #expect(cluster.node(0)!.log.contains("peers banned earlier"))
            #expect(try (1..<4).allSatisfy { try cluster.metric($0, "tributary_p2p_peers_banned_total") == 0 })

            // A peer that asks for blocks far faster than any syncing node: the requests beyond the
            // budget are not served and cost it its score.
            let asker = try HostileClient(port: cluster.p2pPort(1))
            try asker.handshake(chainID: cluster.chainID)
            for _ in 0..<400 { asker.send(.direct([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 32]), on: .blocks) }
            #expect(asker.isClosedByNode())
            try cluster.waitUntil("node1 banned the asker", timeoutSeconds: 10) { try cluster.metric(1, "tributary_p2p_peers_banned_total") == 1 }
            #expect(cluster.node(1)!.log.contains("block requests over 200 per second"))
            #expect(cluster.stopAll() == [0, 0, 0, 0])
        }

        @Test(.timeLimit(.minutes(4))) func honestPeersUnderLoadAreNotBanned() throws {
            // A receive rate limit well under the load's traffic: every node throttles its peers.
            let cluster = try Cluster(settings: ["receive_bytes_per_s_max": 100_000, "block_interval_ms": 10])
            try cluster.waitUntil("the validators connected", timeoutSeconds: 20) {
                try (0..<4).allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            let senders = (0..<200).map { _ in SigningKey() }
            for key in senders { try cluster.transfer(via: 0, amount: 10 * OPEN.atomicUnitsPerOPEN, to: key.publicKey) }
            let last = try cluster.transfer(via: 0)
            try cluster.waitCommitted(last, on: [0, 1, 2, 3], timeoutSeconds: 60)
            // 4,000 transfers, each node sent the senders of its quarter, in batches.
            var perNode: [[SignedTransaction]] = Array(repeating: [], count: 4)
            for round in 0..<20 {
                for (index, key) in senders.enumerated() {
                    perNode[index % 4].append(Transaction(sender: key.publicKey, nonce: UInt64(round), fee: 1_000,
                                                          body: .transfer(to: SigningKey().publicKey, amount: 1))
                        .signed(by: key, chainID: cluster.chainID))
                }
            }
            for node in 0..<4 { try send(perNode[node], to: node, cluster) }
            let hashes = perNode.flatMap { $0 }.map(\.hash.hex)
            for hash in [hashes.first!, hashes.last!] { try cluster.waitCommitted(hash, on: [0, 1, 2, 3], timeoutSeconds: 120) }
            for node in 0..<4 {
                #expect(try cluster.metric(node, "tributary_p2p_peers_banned_total") == 0)
                #expect(try cluster.status(node)["peers"] as? Int == 3)
                let peers = try HTTP.get("\(cluster.url(node))/v1/net/peers").json["peers"] as! [[String: Any]]
                #expect(peers.allSatisfy { ($0["score"] as? Int ?? -1) > -100 }, "node \(node): \(peers.map { $0["score"] ?? "" })")
            }
            #expect(cluster.stopAll() == [0, 0, 0, 0])
        }

        /// Sends `transfers` to node `node`, 500 per request.
        private func send(_ transfers: [SignedTransaction], to node: Int, _ cluster: Cluster) throws {
            for start in stride(from: 0, to: transfers.count, by: 500) {
                let chunk = transfers[start..<min(start + 500, transfers.count)]
                let answer = try HTTP.post("\(cluster.url(node))/v1/txs", json: ["txs": chunk.map { Hex.encode($0.canonicalBytes) }])
                #expect(answer.status == 202)
            }
        }

        /// Whether the node closes a connection from `key` right after (or during) its handshake.
        private func refused(_ key: SigningKey, port: UInt16, chainID: String, sourceHost: String? = nil) throws -> Bool {
            let client = try HostileClient(port: port, nodeKey: key, sourceHost: sourceHost)
            try? client.handshake(chainID: chainID)
            return client.isClosedByNode(timeoutSeconds: 5)
        }
    }
}
