import Consensus
import Crypto
import Ledger
import Testing

/// The evidence a node queues: once per validator and height, handed over when its height is
/// committed, and not queued again by a late copy of the same fault.
@Suite struct EvidenceQueueTests {
    let cheater = SigningKey()
    let chainID = "evidence-queue"

    /// Conflicting precommits of `key` at `height` and `round`, for `block` against nil.
    func evidence(height: UInt64, round: UInt32 = 0, block: UInt8 = 1, by key: SigningKey? = nil) -> DuplicateVoteEvidence {
        let key = key ?? cheater
        let a = SignedVote(Vote(kind: .precommit, height: height, round: round, blockHash: Digest.blake2b([block])), signedBy: key, chainID: chainID)
        let b = SignedVote(Vote(kind: .precommit, height: height, round: round, blockHash: nil), signedBy: key, chainID: chainID)
        return DuplicateVoteEvidence(a, b)!
    }

    /// Adds `evidence` and expects it `queued` or not.
    func add(_ queue: inout EvidenceQueue, _ evidence: DuplicateVoteEvidence, queued expected: Bool, _ comment: Comment? = nil,
             sourceLocation: SourceLocation = #_sourceLocation) {
        let queued = queue.add(evidence)
        #expect(queued == expected, comment, sourceLocation: sourceLocation)
    }

    @Test func oneEvidencePerValidatorAndHeight() {
        var queue = EvidenceQueue()
        add(&queue, evidence(height: 5), queued: true)
        add(&queue, evidence(height: 5), queued: false, "the same pair again")
        add(&queue, evidence(height: 5, round: 3, block: 2), queued: false, "another pair of the same fault: same validator and height")
        add(&queue, evidence(height: 6), queued: true, "another height is another fault")
        let other = SigningKey()
        add(&queue, evidence(height: 5, by: other), queued: true, "another validator")
        let early = queue.takeDue(committedHeight: 4)
        #expect(early.isEmpty, "nothing before its height is committed")
        let due = queue.takeDue(committedHeight: 5)
        #expect(due == [evidence(height: 5), evidence(height: 5, by: other)])
        let again = queue.takeDue(committedHeight: 5)
        #expect(again.isEmpty, "handed over once")
        let next = queue.takeDue(committedHeight: 6)
        #expect(next == [evidence(height: 6)])
    }

    @Test func aLateCopyIsNotQueuedAgainUntilItsHeightIsLongPast() {
        var queue = EvidenceQueue()
        add(&queue, evidence(height: 5), queued: true)
        let due = queue.takeDue(committedHeight: 5)
        #expect(due.count == 1)
        add(&queue, evidence(height: 5, round: 1), queued: false, "one height later a late vote of height 5 may still arrive")
        _ = queue.takeDue(committedHeight: 6)
        add(&queue, evidence(height: 5, round: 2), queued: false)
        _ = queue.takeDue(committedHeight: 7)
        add(&queue, evidence(height: 5, round: 2), queued: true, "forgotten once no vote of its height can arrive; the chain refuses a second slash")
    }
}
