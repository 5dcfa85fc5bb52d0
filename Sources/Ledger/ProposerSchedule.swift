import Crypto

/// Weighted round-robin proposer selection (the priority algorithm of Tendermint/CometBFT).
///
/// Every validator carries a priority. One step adds each validator's power to its priority,
/// picks the highest (ties: lowest address) as proposer and subtracts the total power from
/// it. Over any window, a validator proposes in proportion to its power, and never twice in
/// a row unless it holds most of the power.
///
/// Round r of a height is proposed by the validator chosen in step r + 1 from the height's
/// schedule; the schedule of height H+1 is H's advanced by one step, with validator-set
/// changes applied (a newcomer starts at -1.125 × total power so it does not propose at once).
public struct ProposerSchedule: Hashable, Sendable, CanonicalCodable {
    public private(set) var validators: ValidatorSet
    /// Priorities in the order of `validators.members`.
    public private(set) var priorities: [Int64]

    /// The schedule of a set's first height: every priority zero.
    public init(starting validators: ValidatorSet) {
        self.validators = validators
        self.priorities = Array(repeating: 0, count: validators.members.count)
    }

    /// The proposer of `round` at this schedule's height: the one chosen by the round's step.
    public func proposer(round: UInt32) -> Address {
        var copy = self
        var chosen = 0
        for _ in 0...round { chosen = copy.step() }
        return validators.members[chosen].address
    }

    /// The proposers of this height's rounds, each step taken once however many rounds are
    /// asked about (`proposer(round:)` replays `round + 1` steps at every call).
    public func rounds() -> ProposerRounds { ProposerRounds(self) }

    /// The schedule of the next height, whose validators are `next`.
    public func nextHeight(validators next: ValidatorSet) -> ProposerSchedule {
        var schedule = self
        schedule.step()
        if next != validators { schedule.replaceValidators(with: next) }
        return schedule
    }

    private func highestIndex() -> Int {
        var best = 0
        for index in priorities.indices.dropFirst() where priorities[index] > priorities[best] { best = index }
        return best  // members are in ascending address order, so ties go to the lowest address
    }

    /// Adds every validator's power to its priority, then charges the highest (the chosen
    /// proposer) the total power. Returns the chosen index.
    @discardableResult
    fileprivate mutating func step() -> Int {
        for index in priorities.indices { priorities[index] += Int64(validators.members[index].power) }
        let chosen = highestIndex()
        priorities[chosen] -= Int64(validators.totalPower)
        rescale()
        return chosen
    }

    private mutating func replaceValidators(with next: ValidatorSet) {
        var old: [Address: Int64] = [:]
        for (member, priority) in zip(validators.members, priorities) { old[member.address] = priority }
        let newcomer = -(Int64(next.totalPower) + Int64(next.totalPower) / 8)
        validators = next
        priorities = next.members.map { old[$0.address] ?? newcomer }
        rescale()
    }

    /// Keeps priorities bounded: spread at most 2 × total power, average zero.
    private mutating func rescale() {
        guard let high = priorities.max(), let low = priorities.min(), !priorities.isEmpty else { return }
        let total = Int64(validators.totalPower)
        let spread = high - low
        if spread > 2 * total, total > 0 {
            let divisor = (spread + 2 * total - 1) / (2 * total)
            priorities = priorities.map { $0 / divisor }
        }
        // Floor division so the centring is the same on every platform for negative sums.
        let sum = priorities.reduce(0, +)
        let count = Int64(priorities.count)
        let average = sum >= 0 ? sum / count : -((-sum + count - 1) / count)
        priorities = priorities.map { $0 - average }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(validators)
        for priority in priorities { writer.write(UInt64(bitPattern: priority)) }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        validators = try reader.read()
        var priorities: [Int64] = []
        for _ in validators.members { priorities.append(Int64(bitPattern: try reader.readUInt64())) }
        self.priorities = priorities
    }
}

/// The proposers of one height's rounds, computed as far as asked and kept: a message naming a
/// far round costs its steps once, not at every message.
public struct ProposerRounds: Sendable {
    private var schedule: ProposerSchedule
    private var chosen: [Address] = []

    init(_ schedule: ProposerSchedule) { self.schedule = schedule }

    /// The proposer of `round`, as `ProposerSchedule.proposer(round:)` gives it.
    public mutating func proposer(round: UInt32) -> Address {
        while chosen.count <= Int(round) { chosen.append(schedule.validators.members[schedule.step()].address) }
        return chosen[Int(round)]
    }
}
