import Consensus
import Crypto
import Foundation
import Gossip
import Ledger
import Testing

extension ClusterSuites {
    /// Raw TCP peers that misbehave at every layer, against a running 4-validator network: each is
    /// dropped, logged and counted, and the validators keep committing throughout.
    @Suite struct HostilePeerTests {
        @Test(.timeLimit(.minutes(4))) func hostilePeersAreDroppedLoggedAndCounted() throws {
            let cluster = try Cluster(settings: ["write_stall_timeout_ms": 2_000, "peer_timeout_ms": 30_000, "inbound_handshakes_per_host_max": 2])
            try cluster.waitUntil("the validators connected", timeoutSeconds: 20) {
                try (0..<4).allSatisfy { try cluster.status($0)["peers"] as? Int == 3 }
            }
            let port = cluster.p2pPort(0)
            let node = try cluster.nodeID(0)
            func keepsCommitting() throws { try cluster.waitCommitted(try cluster.transfer(via: 1), on: [0, 1, 2, 3]) }
            func counted(_ sample: String, atLeast value: UInt64 = 1) throws {
                try cluster.waitUntil("\(sample) ≥ \(value)", timeoutSeconds: 10) { try cluster.metric(0, sample) >= value }
            }

            // Connections from one host that never finish their handshake: past
            // inbound_handshakes_per_host_max the node refuses more from that host at once, while
            // loopback peers (the validators, the clients below) are exempt.
            let host = try HostileClient.nonLoopbackIPv4()
            let silent = try (0..<2).map { _ in try HostileClient(port: port, sourceHost: host) }
            let third = try HostileClient(port: port, sourceHost: host)
            #expect(third.isClosedByNode())
            try counted(#"tributary_p2p_handshake_failures_total{reason="host_handshakes"}"#)
            #expect(silent.allSatisfy { !$0.isClosedByNode(timeoutSeconds: 0.5) }, "the first two wait out the handshake timeout")
            for client in silent { client.reset() }

            // Garbage instead of a hello.
            let garbage = try HostileClient(port: port)
            garbage.send(Array("GET / HTTP/1.1\r\nHost: node0\r\n\r\n".utf8))
            #expect(garbage.isClosedByNode())
            try counted(#"tributary_p2p_handshake_failures_total{reason="not_tributary"}"#)

            // A hello for another chain.
            let stranger = try HostileClient(port: port)
            stranger.send(Handshake(role: .dialer(expected: nil), nodeKey: stranger.nodeKey, chainID: "otherchain").hello.bytes)
            #expect(stranger.isClosedByNode())
            try counted(#"tributary_p2p_handshake_failures_total{reason="chain_id"}"#)
            try keepsCommitting()

            // A valid handshake, then a frame longer than frame_bytes_max.
            let oversize = try HostileClient(port: port)
            try oversize.handshake(chainID: cluster.chainID, expecting: node)
            oversize.send([0x7f, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 1_024))
            #expect(oversize.isClosedByNode())
            try counted(#"tributary_p2p_disconnects_total{reason="oversize_frame"}"#)

            // A frame that fails authentication, and an authentic frame replayed.
            let forger = try HostileClient(port: port)
            try forger.handshake(chainID: cluster.chainID)
            forger.send([0, 0, 0, 32] + (0..<32).map { _ in UInt8.random(in: 0...255) })
            #expect(forger.isClosedByNode())
            let replayer = try HostileClient(port: port)
            try replayer.handshake(chainID: cluster.chainID)
            let frame = replayer.sendFrame([Channel.control.rawValue, 1] + WireMessage.ping(7).canonicalBytes)
            replayer.send(frame)
            #expect(replayer.isClosedByNode())
            try counted(#"tributary_p2p_disconnects_total{reason="frame_authentication"}"#, atLeast: 2)
            try keepsCommitting()

            // A vote whose signature does not verify.
            let liar = try HostileClient(port: port)
            try liar.handshake(chainID: cluster.chainID)
            let someone = SigningKey()
            let vote = SignedVote(vote: Vote(kind: .prevote, height: 1_000, round: 0, blockHash: nil), validator: someone.publicKey,
                                  signature: Signature([UInt8](repeating: 9, count: 64))!)
            liar.send(.items([ConsensusMessage.vote(vote).canonicalBytes]), on: .consensus)
            #expect(liar.isClosedByNode())
            try counted(#"tributary_p2p_invalid_messages_total{reason="bad_signature"}"#)

            // A valid transaction sent twice: relayed once (it commits everywhere), the copy counted
            // as a duplicate, the sender kept.
            let repeater = try HostileClient(port: port)
            try repeater.handshake(chainID: cluster.chainID)
            let duplicatesBefore = try cluster.metric(0, "tributary_p2p_duplicates_dropped_total")
            let transfer = cluster.signTransfer()
            repeater.send(.items([transfer.canonicalBytes]), on: .transactions)
            repeater.send(.items([transfer.canonicalBytes]), on: .transactions)
            try cluster.waitCommitted(transfer.hash.hex, on: [0, 1, 2, 3])
            try counted("tributary_p2p_duplicates_dropped_total", atLeast: duplicatesBefore + 1)
            #expect(!repeater.isClosedByNode(timeoutSeconds: 1))

            // A peer that resets its connection while the node has messages for it: dropped, the
            // node unharmed. (Writing into a closed connection, the SIGPIPE case, is what the e2e
            // run's paused node meets on resuming: its peers closed their ends meanwhile.)
            for _ in 0..<3 {
                let resetter = try HostileClient(port: port)
                try resetter.handshake(chainID: cluster.chainID)
                resetter.send(.direct([1] + withUnsafeBytes(of: UInt64(try cluster.height(0)).bigEndian, Array.init)), on: .blocks)
                resetter.reset()
                for _ in 0..<5 { try cluster.transfer(via: 0) }
            }
            try keepsCommitting()
            #expect(cluster.node(0)!.isRunning)

            // A peer that never reads, while it keeps asking for data: it reports the chain's height
            // (a block sync status: kind 1, u64 height), so it is sent consensus messages, and keeps
            // asking for the first 32 blocks (kind 2, u64 from, u32 count). It is dropped as one that
            // does not read: its bytes stall in the socket, or pile up past its send queue.
            let sleeper = try HostileClient(port: port, receiveBufferBytes: 1_024)
            try sleeper.handshake(chainID: cluster.chainID)
            let height = UInt64(try cluster.height(0))
            sleeper.send(.direct([1] + withUnsafeBytes(of: height.bigEndian, Array.init)), on: .blocks)
            func droppedForNotReading() throws -> UInt64 {
                try cluster.metric(0, #"tributary_p2p_disconnects_total{reason="write_stall"}"#)
                    + cluster.metric(0, #"tributary_p2p_disconnects_total{reason="send_queue_full"}"#)
            }
            try cluster.waitUntil("the node dropped the peer that does not read", timeoutSeconds: 60) {
                // Within the block request rate limit (20 per 100 ms), which would ban it otherwise.
                for _ in 0..<5 { sleeper.send(.direct([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 32]), on: .blocks) }
                for _ in 0..<20 { try cluster.transfer(via: 0) }
                return try droppedForNotReading() >= 1
            }
            try keepsCommitting()

            // A request for no blocks (kind 2, from 1, count 0): answered with none, not a crash.
            // An empty answer claiming height UInt64.max (kind 3, no blocks): no crash either; it
            // sends node0 into block sync and, when the peer leaves, back — at times one height
            // behind, having missed that height's messages, and it fetches that block.
            for _ in 0..<3 {
                let edger = try HostileClient(port: port)
                try edger.handshake(chainID: cluster.chainID)
                edger.send(.direct([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), on: .blocks)
                edger.send(.direct([3, 0, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8)), on: .blocks)
                for _ in 0..<3 { try cluster.transfer(via: 0) }
                edger.reset()
                try keepsCommitting()
            }
            #expect(cluster.node(0)!.isRunning)

            let log = cluster.node(0)!.log
            #expect(log.contains("accepted no bytes within write_stall_timeout_ms") || log.contains("reads too slowly"))
            for line in ["not open with a Tributary hello", "on chain 'otherchain'", "over frame_bytes_max", "failed authentication",
                         "invalid message"] {
                #expect(log.contains(line), "node0's log lacks '\(line)'")
            }
            #expect(cluster.stopAll() == [0, 0, 0, 0])
        }
    }
}
