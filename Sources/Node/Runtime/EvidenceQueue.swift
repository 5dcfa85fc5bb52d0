import Crypto
import Ledger

/// Evidence waiting for its height to be committed, one per validator and height reported.
struct EvidenceQueue {
    private struct Slot: Hashable {
        let validator: PublicKey
        let height: UInt64
    }

    private var pending: [DuplicateVoteEvidence] = []
    /// What was reported, kept until no vote of its height can arrive any more (the engine
    /// hears a height's votes until it moves past it).
    private var reported: Set<Slot> = []

    /// Queues `evidence` unless evidence of its validator and height was reported before.
    mutating func add(_ evidence: DuplicateVoteEvidence) -> Bool {
        guard reported.insert(Slot(validator: evidence.validator, height: evidence.height)).inserted else { return false }
        pending.append(evidence)
        return true
    }

    /// The evidence of committed heights, taken out of the queue.
    mutating func takeDue(committedHeight: UInt64) -> [DuplicateVoteEvidence] {
        reported = reported.filter { $0.height + 2 > committedHeight }
        defer { pending.removeAll { $0.height <= committedHeight } }
        return pending.filter { $0.height <= committedHeight }
    }
}
