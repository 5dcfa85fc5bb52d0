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
    /// The validators that certify `height`, if already known (the set of the height after the
    /// next one is known once the block before it commits).
    func validatorSet(forHeight height: UInt64) -> ValidatorSet?
    /// Whether a proposed block for the next height is valid (`valid(v)` in the paper). The
    /// answer must not change during a height: it is asked once per block and remembered.
    func isValid(_ candidate: BlockCandidate) -> Bool
    /// Whether a newly proposed block's time is acceptable to this node's clock. Asked each time
    /// a fresh proposal (one without a valid round) is prevoted on, never remembered: a node
    /// whose clock lags prevotes nil on new blocks, yet still locks on and prevotes blocks that
    /// others gave a polka, so its clock cannot stall a height.
    func isTimely(_ candidate: BlockCandidate) -> Bool
    /// Whether a committed block received from a peer is the valid, certified next block.
    func isValidCommitted(_ block: Block) -> Bool
}
