/// What a simulation run does: how many validators, how many of them Byzantine, which
/// faults the network and nodes suffer, and how far the chain must get.
public struct SimulationConfig: Sendable {
    /// Faults injected during the first part of a run; afterwards the network is healed,
    /// crashed nodes restart, and every honest node must keep committing.
    public enum Fault: String, Sendable, CaseIterable {
        /// Nodes crash at any point of handling an event and restart from their store and WAL.
        case crash
        /// The validators split into groups that cannot talk; the split heals later.
        case partition
        /// Some messages take seconds instead of milliseconds.
        case delay
        /// Messages are lost.
        case drop
        /// Messages arrive twice.
        case duplicate
        /// Messages overtake each other.
        case reorder
        /// Node clocks disagree by up to seconds.
        case clockSkew = "clock-skew"
    }

    /// How a Byzantine validator misbehaves.
    public enum Behavior: String, Sendable, CaseIterable {
        /// Two instances run with one key (Twins), each talking to part of the network.
        case twins
        /// As proposer, sends different valid blocks to different validators.
        case conflictingProposals = "conflicting-proposals"
        /// Votes for blocks that do not exist and proposes blocks that do not execute.
        case invalidBlocks = "invalid-blocks"
        /// Acts as if it had no lock (the amnesia attack): as proposer it always proposes a new
        /// block, never the one a polka made valid, and it sends each precommit to one validator.
        case amnesia
        /// Sends nothing.
        case silent
        /// Picks one of the behaviours above (or honesty) for each message it sends.
        case chaotic
    }

    public var seed: UInt64
    public var validators: Int
    public var byzantine: Int
    public var faults: Set<Fault>
    /// The height every honest node must commit for the run to pass.
    public var heights: UInt64
    /// How long (simulated) faults are injected.
    public var faultPeriodMs: UInt64 = 4_000
    /// How long (simulated) honest nodes get, after faults stop, to reach `heights`.
    public var livenessWindowMs: UInt64 = 120_000
    /// How many of the last events a failure report shows.
    public var traceLines = 400
    /// Directory for the nodes' stores and WALs (one subdirectory per node and run).
    public var directory: String

    public init(seed: UInt64, validators: Int, byzantine: Int = 0, faults: Set<Fault> = [], heights: UInt64 = 10,
                directory: String) {
        self.seed = seed
        self.validators = validators
        self.byzantine = byzantine
        self.faults = faults
        self.heights = heights
        self.directory = directory
    }

    /// The most Byzantine validators a network of `validators` equal-power validators tolerates.
    public static func faultTolerance(validators: Int) -> Int { (validators - 1) / 3 }
}
