import Crypto
import Ledger

/// When a timeout fires: which height, round and step it guards.
public struct Timeout: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable {
        case propose, prevote, precommit
        /// The pause after a commit before the next height starts (the block interval).
        case commit
        /// When a request for missing blocks may be repeated.
        case sync
    }

    public let height: UInt64
    public let round: UInt32
    public let kind: Kind

    public init(height: UInt64, round: UInt32, kind: Kind) {
        self.height = height
        self.round = round
        self.kind = kind
    }

    public var description: String { "timeout(\(kind) h=\(height) r=\(round))" }
}

/// An input to the engine.
public enum ConsensusEvent: Sendable {
    /// Begin consensus on the application's next height.
    case start
    /// A proposal or vote whose signature was checked (`ConsensusMessage.isAuthentic`) by the
    /// driver: the engine does not check signatures again.
    case message(ConsensusMessage)
    case timeout(Timeout)
    /// The mempool has transactions (the engine may be waiting for some to propose).
    case transactionsAvailable
    /// A committed block from a peer, for catching up.
    case blockReceived(Block)

    var isStart: Bool {
        if case .start = self { return true }
        return false
    }
}

/// An output of the engine, for the driver to carry out in order.
public enum ConsensusEffect: Sendable {
    /// Make this record durable (fsync) before carrying out any later effect: it is what the
    /// node is about to sign.
    case persist(WALRecord)
    /// Send to every other validator.
    case broadcast(ConsensusMessage)
    /// Deliver `.timeout(timeout)` after `delayMs`.
    case schedule(Timeout, delayMs: UInt64)
    /// Commit this decided block; the next height starts at the `.commit` timeout.
    case commit(Block)
    /// A validator signed conflicting votes: report it on chain.
    case evidence(DuplicateVoteEvidence)
    /// Messages from a later height arrived: fetch committed blocks from `height` on.
    case requestBlocks(fromHeight: UInt64)
}
