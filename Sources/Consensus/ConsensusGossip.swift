import Crypto
import Gossip
import Ledger

/// How proposals and votes travel as gossip — shared by the node and the simulator, so both
/// check arriving messages the same way: each decoded and its signature verified once, before
/// anything acts on it or relays it.
public enum ConsensusGossip {
    /// A message as a gossip item: its canonical bytes on the consensus channel, its height as
    /// the epoch (peers get it only while they can keep it).
    public static func item(_ message: ConsensusMessage) -> GossipItem {
        GossipItem(channel: .consensus, bytes: message.canonicalBytes, epoch: message.height)
    }

    /// Whether an authentic consensus message is worth acting on and relaying for a node whose
    /// committed chain is `store`: of the two heights after the last committed one (those the
    /// engine keeps; peers send no later ones), from a validator of that height.
    public static func isRelevant(_ message: ConsensusMessage, to store: ChainStore) -> Bool {
        let height = store.status!.height
        guard message.height > height, message.height <= height + 2,
              let validators = try? store.validatorSet(forHeight: message.height)
        else { return false }
        return validators.power(of: message.sender) > 0
    }

    /// What a batch of consensus items from a peer held.
    public struct Inbound: Sendable {
        /// New, authentic and relevant: to act on and relay.
        public var accepted: [(item: GossipItem, message: ConsensusMessage)] = []
        /// Already handled (or twice in the batch).
        public var duplicates: [Digest] = []
        /// Authentic but of no use here (another height, not from a validator): neither acted on nor relayed.
        public var discarded: [Digest] = []
        /// The first invalid item, if any (the items after it are not looked at): the sender misbehaved.
        public var failure: (reason: String, detail: String)?
        /// The highest height among authentic messages.
        public var highestHeight: UInt64 = 0

        /// The router events that record this batch.
        public func routerEvents(from peer: NodeID) -> [RouterEvent] {
            var events: [RouterEvent] = []
            if !duplicates.isEmpty { events.append(.duplicates(from: peer, duplicates)) }
            if !discarded.isEmpty { events.append(.discarded(from: peer, discarded)) }
            if !accepted.isEmpty { events.append(.accepted(from: peer, accepted.map(\.item))) }
            return events
        }
    }

    /// Sorts the items of a consensus `items` message from a peer.
    public static func sort(_ items: [[UInt8]], seen: (Digest) -> Bool, chainID: String,
                            isRelevant: (ConsensusMessage) -> Bool) -> Inbound {
        var inbound = Inbound()
        var batch = Set<Digest>()
        for bytes in items {
            let id = Digest.blake2b(bytes)
            if seen(id) || !batch.insert(id).inserted {
                inbound.duplicates.append(id)
                continue
            }
            guard let message = try? ConsensusMessage(canonicalBytes: bytes, maxBytes: WireMessage.payloadBytesMax) else {
                inbound.failure = ("malformed", "a consensus message that does not decode")
                break
            }
            guard message.isAuthentic(chainID: chainID) else {
                inbound.failure = ("bad_signature", "a \(message.kind) at height \(message.height) with a bad signature")
                break
            }
            inbound.highestHeight = max(inbound.highestHeight, message.height)
            if isRelevant(message) {
                inbound.accepted.append((GossipItem(id: id, channel: .consensus, bytes: bytes, epoch: message.height), message))
            } else {
                inbound.discarded.append(id)
            }
        }
        return inbound
    }
}

extension ConsensusMessage {
    /// "proposal", "prevote" or "precommit", for logs.
    public var kind: String {
        switch self {
        case .proposal: "proposal"
        case let .vote(vote): vote.vote.kind == .prevote ? "prevote" : "precommit"
        }
    }
}
