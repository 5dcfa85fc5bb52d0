import Crypto
import Ledger

/// What the consensus engine needs from the chain it orders blocks for. Calls are synchronous
/// and deterministic for a given committed state; the engine itself keeps no clock, socket
/// or thread.
public protocol ConsensusApplication: AnyObject {
    /// The height the next block will have, with the validators that certify it and the
    /// schedule of its proposers.
    func nextHeight() -> (height: UInt64, validators: ValidatorSet, schedule: ProposerSchedule)
    /// Whether transactions wait to be proposed.
    var hasPendingTransactions: Bool { get }
    /// A new block for the next height, proposed by `proposer` (`getValue()` in the paper).
    func propose(proposer: Address) -> BlockCandidate
    /// Whether a proposed block for the next height is valid (`valid(v)` in the paper).
    func isValid(_ candidate: BlockCandidate) -> Bool
    /// Whether a committed block received from a peer is the valid, certified next block.
    func isValidCommitted(_ block: Block) -> Bool
}
