import Crypto
import Foundation
import Ledger
import Testing

extension ClusterSuites {
    /// Four validator processes from `tributary testnet` on loopback: real sockets, real
    /// processes, real stores and WALs.
    @Suite struct NetworkTests {
        @Test(.timeLimit(.minutes(5))) func fourValidatorsAgreeThroughKillsAndPauses() throws {
            let cluster = try Cluster()
            let all = Array(0..<4)
            let manifest = try cluster.manifest
            let nodes = manifest["nodes"] as! [[String: Any]]
            #expect(manifest["chain_id"] as? String == "localnet" && nodes.count == 4)
            #expect(nodes.map { $0["http"] as? String } == all.map(cluster.url))
            #expect(nodes.allSatisfy { ($0["p2p"] as? String)?.contains("@127.0.0.1:") == true && $0["validator"] is String })
            try cluster.waitUntil("every node connected to the three others", timeoutSeconds: 20) {
                try all.allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            let peers = try HTTP.get("\(cluster.url(0))/v1/net/peers").json["peers"] as! [[String: Any]]
            #expect(peers.count == 3)
            for peer in peers {
                for field in ["id", "address", "direction", "connected_ms", "bytes_sent", "bytes_received", "score"] {
                    #expect(peer[field] != nil, "peer entry lacks \(field)")
                }
            }

            // Transfers sent to different nodes commit on all.
            for index in all { try cluster.waitCommitted(try cluster.transfer(via: index), on: all) }

            // SIGKILL each node in turn: the other three keep committing, four heights each time — with
            // equal power the proposers rotate, so one of the four was the dead node's to propose and
            // is decided in a later round; restarted, the node catches up and commits again.
            for victim in all {
                cluster.kill(victim)
                let alive = all.filter { $0 != victim }
                var rounds: [Int] = []
                for turn in 0..<4 {
                    let height = try cluster.waitCommitted(try cluster.transfer(via: alive[turn % alive.count]), on: alive)
                    rounds.append(try cluster.chain(of: alive[0], upTo: height).last!.round)
                }
                #expect(rounds.contains { $0 > 0 }, "node \(victim) down: rounds of four heights \(rounds)")
                try cluster.start(victim)
                let target = try cluster.height(alive[0])
                try cluster.waitUntil("node \(victim) caught up to height \(target)", timeoutSeconds: 30) { try cluster.height(victim) >= target }
                try cluster.waitCommitted(try cluster.transfer(via: victim), on: all)
            }

            // Two of four paused: no quorum, no commit, no fork; resumed, commits resume.
            let before = try cluster.height(0)
            cluster.signal(2, SIGSTOP)
            cluster.signal(3, SIGSTOP)
            let stalled = try cluster.transfer(via: 0)
            Thread.sleep(forTimeInterval: 3)
            #expect(try cluster.height(0) == before && cluster.height(1) == before)
            cluster.signal(2, SIGCONT)
            cluster.signal(3, SIGCONT)
            try cluster.waitCommitted(stalled, on: all)
            try cluster.waitCommitted(try cluster.transfer(via: 3), on: all)

            // Every node holds the same block and app hash at every height.
            let chain = try cluster.expectSameChain(all)
            #expect(chain.count >= 24)
            // A block's canonical bytes, for clients that ask for them, hash to the same block.
            let raw = try HTTP.send("GET", "\(cluster.url(2))/v1/blocks/3", accept: "application/octet-stream")
            #expect(try Block(canonicalBytes: Array(raw.body), maxBytes: raw.body.count).hash.hex == chain[2].hash)
            #expect(cluster.stopAll() == [0, 0, 0, 0])
        }
    }
}
