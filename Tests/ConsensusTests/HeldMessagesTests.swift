import Consensus
import Crypto
import Ledger
import Testing

/// The messages a node keeps while no consensus engine runs: all handed over in arrival order,
/// the oldest dropped past the limits.
@Suite struct HeldMessagesTests {
    let validator = SigningKey()

    func vote(round: UInt32) -> ConsensusMessage {
        .vote(SignedVote(vote: Vote(kind: .prevote, height: 7, round: round, blockHash: nil), validator: validator.publicKey,
                         signature: Signature([UInt8](repeating: 1, count: 64))!))
    }

    @Test func heldMessagesAreHandedOverInOrderOnce() {
        var held = HeldConsensusMessages()
        for round in 0..<5 { held.add(vote(round: UInt32(round)), bytes: 100) }
        #expect(held.count == 5 && held.bytes == 500)
        #expect(held.takeAll() == (0..<5).map { vote(round: UInt32($0)) })
        #expect(held.count == 0 && held.bytes == 0 && held.takeAll().isEmpty)
    }

    @Test func theOldestGoPastTheLimit() {
        var held = HeldConsensusMessages()
        let extra = 2_000
        for round in 0..<(HeldConsensusMessages.messagesMax + extra) { held.add(vote(round: UInt32(round)), bytes: 100) }
        #expect(held.count == HeldConsensusMessages.messagesMax)
        let kept = held.takeAll()
        #expect(kept.first == vote(round: UInt32(extra)) && kept.last == vote(round: UInt32(HeldConsensusMessages.messagesMax + extra - 1)))
        // By bytes too: four quarters fit, a fifth pushes out the first; a message over the whole limit is not kept.
        for round in 0..<5 { held.add(vote(round: UInt32(round)), bytes: HeldConsensusMessages.bytesMax / 4) }
        held.add(vote(round: 9), bytes: HeldConsensusMessages.bytesMax + 1)
        #expect(held.takeAll() == (1..<5).map { vote(round: UInt32($0)) })
    }
}
