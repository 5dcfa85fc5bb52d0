import Crypto
import Ledger
import Testing

@Suite struct ProposerScheduleTests {
    let keys = (0..<4).map { SigningKey(seed: Digest.blake2b([UInt8($0)]).bytes)! }

    func sequence(_ schedule: ProposerSchedule, heights: Int) -> [Address] {
        var current = schedule
        var proposers: [Address] = []
        for _ in 0..<heights {
            proposers.append(current.proposer(round: 0))
            current = current.nextHeight(validators: current.validators)
        }
        return proposers
    }

    @Test func proposersFollowVotingPower() {
        let powers: [UInt64] = [1, 2, 3, 4]
        let set = ValidatorSet(zip(keys, powers).map { ValidatorSet.Member(address: $0.publicKey, power: $1) })
        let proposers = sequence(ProposerSchedule(starting: set), heights: 1_000)
        for (key, power) in zip(keys, powers) {
            #expect(proposers.filter { $0 == key.publicKey }.count == Int(power) * 100)
        }
    }

    @Test func equalPowerIsPlainRoundRobin() {
        let set = ValidatorSet(keys.map { ValidatorSet.Member(address: $0.publicKey, power: 5) })
        let proposers = sequence(ProposerSchedule(starting: set), heights: 12)
        #expect(Set(proposers.prefix(4)).count == 4)
        #expect(Array(proposers.prefix(4)) == Array(proposers[4..<8]))
        // Rounds of a height continue the same rotation.
        let schedule = ProposerSchedule(starting: set)
        #expect((0..<4).map { schedule.proposer(round: UInt32($0)) } == Array(proposers.prefix(4)))
    }

    /// The kept rounds give every round's proposer as the replay does, asked in any order.
    @Test func keptRoundsAgreeWithTheReplay() {
        let set = ValidatorSet(keys.enumerated().map { ValidatorSet.Member(address: $1.publicKey, power: UInt64(3 + 7 * $0)) })
        var schedule = ProposerSchedule(starting: set)
        for _ in 0..<5 { schedule = schedule.nextHeight(validators: set) }
        var rounds = schedule.rounds()
        for round in [40, 3, 0, 41, 17, 99, 5] as [UInt32] {
            #expect(rounds.proposer(round: round) == schedule.proposer(round: round), "round \(round)")
        }
    }

    @Test func aNewcomerWaitsBeforeProposing() {
        let initial = ValidatorSet(keys.prefix(3).map { ValidatorSet.Member(address: $0.publicKey, power: 10) })
        var schedule = ProposerSchedule(starting: initial)
        for _ in 0..<7 { schedule = schedule.nextHeight(validators: initial) }
        let grown = ValidatorSet(keys.map { ValidatorSet.Member(address: $0.publicKey, power: 10) })
        schedule = schedule.nextHeight(validators: grown)
        let proposers = sequence(schedule, heights: 8)
        #expect(proposers.first != keys[3].publicKey)
        #expect(proposers.contains(keys[3].publicKey))
    }

    @Test func schedulesRoundTripThroughTheirEncoding() throws {
        let set = ValidatorSet(keys.map { ValidatorSet.Member(address: $0.publicKey, power: 3) })
        let schedule = ProposerSchedule(starting: set).nextHeight(validators: set).nextHeight(validators: set)
        #expect(try ProposerSchedule(canonicalBytes: schedule.canonicalBytes) == schedule)
    }
}
