import Crypto
import Ledger

/// Double-sign evidence a node saw, waiting for its height to be committed before it is
/// submitted: one per validator and height, however many conflicting votes of that pair
/// arrive (each pair of them is evidence of the same fault, and the chain slashes it once).
public struct EvidenceQueue: Sendable {
    private struct Slot: Hashable {
        let validator: PublicKey
        let height: UInt64
    }

    private var pending: [DuplicateVoteEvidence] = []
    /// What was reported, kept until no vote of its height can arrive any more (the engine
    /// hears a height's votes until it moves past it).
    private var reported: Set<Slot> = []

    public init() {}

    /// Queues `evidence` unless evidence of its validator and height was reported before;
    /// returns whether it was queued.
    public mutating func add(_ evidence: DuplicateVoteEvidence) -> Bool {
        guard reported.insert(Slot(validator: evidence.validator, height: evidence.height)).inserted else { return false }
        pending.append(evidence)
        return true
    }

    /// The evidence of committed heights, taken out of the queue. A validator and height stay
    /// remembered until two heights later, so a late copy of the same fault is not queued again.
    public mutating func takeDue(committedHeight: UInt64) -> [DuplicateVoteEvidence] {
        reported = reported.filter { $0.height + 2 > committedHeight }
        defer { pending.removeAll { $0.height <= committedHeight } }
        return pending.filter { $0.height <= committedHeight }
    }
}
