import Crypto

/// How much each peer's traffic has been worth, and who deserves a ban.
///
/// New valid messages raise a peer's score (up to `Limits.creditMax`); copies of messages
/// already handled, invalid messages, requests over rate limits and bad blocks lower it. Below `Limits.banBelow` the
/// peer is to be banned. Scores outlive connections — a peer cannot wash its score by
/// reconnecting — and negative ones recover by `Limits.recoveryPerTick` toward zero, so an
/// honest peer that is merely busy, slow, or sends the usual few copies (gossip races make
/// 1.0–1.1 per message) stays far from the threshold, while one that floods copies or
/// keeps sending invalid messages crosses it within seconds.
public struct PeerScores: Sendable {
    public struct Limits: Sendable {
        public var creditMax: Int64 = 1_000
        public var banBelow: Int64 = -1_000
        public var recoveryPerTick: Int64 = 2
        /// Per invalid message (the peer is also disconnected for it).
        public var invalidPenalty: Int64 = 250
        /// Per request beyond a rate limit (the request is not served).
        public var overLimitPenalty: Int64 = 10
        /// Per block request left unanswered past its timeout: more than the recovery of one
        /// timeout's length, so a peer that answers none is banned within a minute or so.
        public var unansweredPenalty: Int64 = 250
        /// Peers whose scores are kept; beyond, the scores closest to zero go.
        public var peersMax = 10_000

        public init() {}
    }

    public enum Event: Sendable, Equatable {
        /// New, valid messages.
        case useful(Int)
        /// Copies of messages already handled.
        case duplicates(Int)
        case invalid
        /// Requests beyond a rate limit (block requests beyond the per-peer budget).
        case overLimit(Int)
        /// A committed block that failed verification: a ban at once.
        case badBlock
        /// A block request left unanswered past its timeout.
        case unanswered
    }

    public let limits: Limits
    public private(set) var scores: [NodeID: Int64] = [:]

    public init(limits: Limits = Limits()) { self.limits = limits }

    public func score(of peer: NodeID) -> Int64 { scores[peer] ?? 0 }

    /// Records `event`; true when the peer's score fell below the ban threshold (its score is
    /// then reset, to start from zero when the ban ends).
    public mutating func record(_ event: Event, for peer: NodeID) -> Bool {
        let score = score(of: peer)
        let next: Int64 = switch event {
        case let .useful(count): min(limits.creditMax, score + Int64(count))
        case let .duplicates(count): score - Int64(count)
        case .invalid: score - limits.invalidPenalty
        case let .overLimit(count): score - limits.overLimitPenalty * Int64(count)
        case .badBlock: Int64.min
        case .unanswered: score - limits.unansweredPenalty
        }
        guard next >= limits.banBelow else {
            scores[peer] = nil
            return true
        }
        scores[peer] = next
        if scores.count > limits.peersMax, let closest = scores.min(by: { abs($0.value) < abs($1.value) })?.key {
            scores[closest] = nil
        }
        return false
    }

    /// Moves negative scores toward zero.
    public mutating func tick() {
        for (peer, score) in scores where score < 0 {
            scores[peer] = min(0, score + limits.recoveryPerTick)
        }
    }
}
