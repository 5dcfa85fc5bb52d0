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
        for round in 0..<5 { held.add(vote(round: UInt32(round))) }
        #expect(held.count == 5 && held.bytes == 5 * vote(round: 0).canonicalBytes.count)
        #expect(held.takeAll() == (0..<5).map { vote(round: UInt32($0)) })
        #expect(held.count == 0 && held.bytes == 0 && held.takeAll().isEmpty)
    }

    @Test func theOldestGoPastTheLimit() {
        var held = HeldConsensusMessages()
        let extra = 2_000
        for round in 0..<(HeldConsensusMessages.messagesMax + extra) { held.add(vote(round: UInt32(round))) }
        #expect(held.count == HeldConsensusMessages.messagesMax)
        let kept = held.takeAll()
        #expect(kept.first == vote(round: UInt32(extra)) && kept.last == vote(round: UInt32(HeldConsensusMessages.messagesMax + extra - 1)))
    }
}
