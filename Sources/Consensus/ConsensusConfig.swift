/// Timeouts of the consensus engine. Each grows linearly with the round, so that after the
/// network stabilises the timeouts eventually exceed the message delay and a round decides.
public struct ConsensusConfig: Sendable, Equatable {
    public var proposeTimeoutMs: UInt64 = 3_000
    public var proposeTimeoutDeltaMs: UInt64 = 500
    public var prevoteTimeoutMs: UInt64 = 1_000
    public var prevoteTimeoutDeltaMs: UInt64 = 500
    public var precommitTimeoutMs: UInt64 = 1_000
    public var precommitTimeoutDeltaMs: UInt64 = 500
    /// The pause after committing a block before the next height starts.
    public var commitDelayMs: UInt64 = 500
    /// How long to wait before asking peers again for missing blocks.
    public var syncRetryMs: UInt64 = 1_000
    /// Whether a height starts without waiting for transactions.
    public var createEmptyBlocks = false
    /// Bytes of block candidates kept from proposals of rounds more than one ahead of the
    /// current round, and from proposals of later heights, each (per height): beyond, such
    /// proposals only count toward the round-skip rule, so a validator proposing in many far
    /// rounds cannot make its peers hold gigabytes. An honest network stays far below.
    public var aheadProposalBytesMax = 64 << 20

    public init() {}

    public func delayMs(_ kind: Timeout.Kind, round: UInt32) -> UInt64 {
        switch kind {
        case .propose: proposeTimeoutMs + proposeTimeoutDeltaMs * UInt64(round)
        case .prevote: prevoteTimeoutMs + prevoteTimeoutDeltaMs * UInt64(round)
        case .precommit: precommitTimeoutMs + precommitTimeoutDeltaMs * UInt64(round)
        case .commit: commitDelayMs
        case .sync: syncRetryMs
        }
    }
}
