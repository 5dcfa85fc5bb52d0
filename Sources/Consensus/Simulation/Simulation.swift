import Crypto
import Foundation
import Gossip
import Ledger

/// A whole validator network in one process: real nodes (consensus engine, ledger execution,
/// RocksDB store and WAL each) on a simulated network and clock, with every random choice —
/// delays, losses, partitions, crashes, Byzantine behaviour — drawn from one seed, so a run
/// replays exactly.
///
/// Nodes talk as real nodes do: each runs the gossip `Router` over simulated links that break
/// (losing what is in flight) and reconnect, so messages are published, relayed by
/// announcement, requested and re-sent by the same state machine the node's TCP transport
/// drives (`SimulatedNetwork.swift`). A node that sees messages from a later height fetches
/// committed blocks from a peer. Safety invariants are checked at every step; liveness at the end.
public final class Simulation {
    public let config: SimulationConfig
    let consensusConfig: ConsensusConfig
    var random: SeededGenerator
    var queue = EventQueue<Event>()
    private(set) var now: UInt64 = 0
    var nodes: [SimulatedNode] = []
    var genesis: Genesis!
    private var accounts: [SigningKey] = []
    var groups: [Int]?  // partition: group of each validator
    var links: [LinkKey: SimulatedLink] = [:]
    var faultsActive = true
    var trace: Trace
    var report = SimulationReport()
    private var violation: String?

    // Invariant bookkeeping.
    private var decided: [UInt64: Digest] = [:]
    private var honestSignatures: [SignatureSlot: Digest?] = [:]
    private var faultsEndHeight: UInt64 = 0

    private struct SignatureSlot: Hashable {
        let validator: Address
        let height: UInt64
        let round: UInt32
        let step: UInt8
    }

    enum Event {
        case deliver(slot: Int, from: Int, epoch: UInt64, LinkMessage)
        case linkUp(LinkKey, epoch: UInt64)
        case timeout(slot: Int, incarnation: UInt64, Timeout)
        case blocks(slot: Int, incarnation: UInt64, [Block])
        case gossipTick(slot: Int)
        case transactions
        case crash(slot: Int)
        case restart(slot: Int)
        case partition
        case heal
        case faultsEnd
    }

    /// Simulated timeouts: short, as the simulated network delivers in milliseconds.
    public static let defaultConsensusConfig: ConsensusConfig = {
        var config = ConsensusConfig()
        config.proposeTimeoutMs = 400
        config.proposeTimeoutDeltaMs = 200
        config.prevoteTimeoutMs = 300
        config.prevoteTimeoutDeltaMs = 150
        config.precommitTimeoutMs = 300
        config.precommitTimeoutDeltaMs = 150
        config.commitDelayMs = 150
        config.syncRetryMs = 500
        config.createEmptyBlocks = true
        return config
    }()

    public init(_ config: SimulationConfig, consensus: ConsensusConfig = Simulation.defaultConsensusConfig) {
        precondition(config.validators >= 1, "a network needs a validator")
        precondition(config.byzantine <= SimulationConfig.faultTolerance(validators: config.validators),
                     "\(config.byzantine) Byzantine of \(config.validators) validators is more than f")
        self.config = config
        self.consensusConfig = consensus
        self.random = SeededGenerator(seed: config.seed)
        self.trace = Trace(capacity: config.traceLines)
    }

    /// Runs to the end and returns what happened; `report.violation` says what broke, if anything.
    public func run() -> SimulationReport {
        defer { shutdown() }
        do {
            try setUp()
        } catch {
            report.violation = "setup failed: \(error)"
            return report
        }
        let deadline = config.faultPeriodMs + config.livenessWindowMs
        while violation == nil, let (time, event) = queue.pop() {
            guard time <= deadline else { break }
            now = time
            process(event)
            if !faultsActive && honestNodes.allSatisfy({ $0.height >= target }) { break }
        }
        if violation == nil, report.maxRoundAfterFaults > roundsBound {
            fail("liveness: after faults stopped, a height was decided only in round \(report.maxRoundAfterFaults), "
                 + "beyond the bound \(roundsBound)")
        }
        if violation == nil {
            let lagging = honestNodes.filter { $0.height < target }
            if !lagging.isEmpty {
                for node in nodes {
                    trace.add(now, "n\(node.slot) state: height \(node.height), engine at h=\(node.engineHeight) "
                              + "r=\(node.engine?.round ?? 0) step=\(node.engineStep.map { "\($0)" } ?? "down")")
                }
                fail("liveness: after faults stopped at \(config.faultPeriodMs) ms, "
                     + lagging.map { "n\($0.slot) is at height \($0.height)" }.joined(separator: ", ")
                     + " and not at \(target) by \(now) ms")
            }
        }
        report.finalHeight = honestNodes.map(\.height).min() ?? 0
        report.simulatedMs = now
        report.violation = violation
        if violation != nil { report.trace = trace.lines }
        return report
    }

    /// The height every honest node must reach: the configured one, and at least three
    /// heights past where the chain stood when faults stopped.
    private var target: UInt64 { max(config.heights, faultsEndHeight + 3) }

    var honestNodes: [SimulatedNode] { nodes.filter(\.isHonest) }

    /// Once the network is stable, a round fails only when its proposer misbehaves, and
    /// with equal power no Byzantine validator proposes twice before every honest one has:
    /// heights started after the faults stop must decide by round `byzantine + 2`.
    private var roundsBound: UInt32 { UInt32(config.byzantine) + 2 }

    // MARK: Setup

    private func setUp() throws {
        let validatorKeys = (0..<config.validators).map { index in
            SigningKey(seed: Digest.blake2b(Array("sim \(config.seed) validator \(index)".utf8)).bytes)!
        }
        accounts = (0..<8).map { SigningKey(seed: Digest.blake2b(Array("sim \(config.seed) account \($0)".utf8)).bytes)! }
        genesis = Genesis(
            chainID: "sim", genesisTime: 1_800_000_000,
            parameters: ChainParameters(minFee: 1_000, minStake: 10 * OPEN.atomicUnitsPerOPEN),
            validators: validatorKeys.map { .init(address: $0.publicKey, power: 100) },
            allocations: (accounts + validatorKeys).map { .init(address: $0.publicKey, amount: 1_000_000 * OPEN.atomicUnitsPerOPEN) },
            vesting: [])

        var behaviors: [SimulationConfig.Behavior?] = Array(repeating: nil, count: config.validators)
        var byzantineIndices = Array(0..<config.validators)
        shuffle(&byzantineIndices)
        for index in byzantineIndices.prefix(config.byzantine) {
            behaviors[index] = SimulationConfig.Behavior.allCases[Int(random.next() % UInt64(SimulationConfig.Behavior.allCases.count))]
        }
        let runDirectory = config.directory + "/seed-\(config.seed)-\(UUID().uuidString.prefix(8))"
        for (index, key) in validatorKeys.enumerated() {
            let copies = behaviors[index] == .twins ? 2 : 1
            for copy in 0..<copies {
                let slot = nodes.count
                let nodeKey = SigningKey(seed: Digest.blake2b(Array("sim \(config.seed) node \(slot)".utf8)).bytes)!
                let node = SimulatedNode(slot: slot, validator: index, key: key, nodeID: nodeKey.publicKey, behavior: behaviors[index],
                                         directory: runDirectory + "/n\(slot)")
                if config.faults.contains(.clockSkew) { node.clockOffsetMs = Int64(random.uniform(0...6_000)) - 3_000 }
                nodes.append(node)
                _ = copy
            }
        }
        report.validators = config.validators
        report.byzantine = nodes.filter { !$0.isHonest }.map { "n\($0.slot):\($0.behavior!.rawValue)" }
        for node in nodes {
            try boot(node)
            queue.push(.gossipTick(slot: node.slot), at: random.uniform(1...Self.tickMs))
        }
        updateLinks()
        queue.push(.transactions, at: 50)
        scheduleFaults()
        queue.push(.faultsEnd, at: config.faultPeriodMs)
        trace.add(now, "start seed=\(config.seed) validators=\(config.validators) byzantine=\(report.byzantine) faults=\(config.faults.map(\.rawValue).sorted())")
    }

    private func scheduleFaults() {
        if config.faults.contains(.crash) {
            var time = random.uniform(200...1_500)
            while time < config.faultPeriodMs {
                let slot = Int(random.next() % UInt64(nodes.count))
                queue.push(.crash(slot: slot), at: time)
                queue.push(.restart(slot: slot), at: time + random.uniform(100...2_500))
                time += random.uniform(300...2_000)
            }
        }
        if config.faults.contains(.partition) {
            var time = random.uniform(200...1_500)
            while time < config.faultPeriodMs {
                queue.push(.partition, at: time)
                let heal = time + random.uniform(300...3_000)
                queue.push(.heal, at: heal)
                time = heal + random.uniform(200...2_000)
            }
        }
    }

    /// The routers' tick, as on a node.
    static let tickMs: UInt64 = 100

    private func boot(_ node: SimulatedNode) throws {
        try node.boot(genesis: genesis, config: consensusConfig) { [unowned self] in genesis.genesisTime * 1000 + now }
        trace.add(now, "n\(node.slot) boot at height \(node.height) (WAL records: \(node.wal?.records.count ?? 0))")
        perform(node, node.handle(.start))
    }

    private func shutdown() {
        for node in nodes { node.crash() }
        if let first = nodes.first {
            try? FileManager.default.removeItem(atPath: (first.directory as NSString).deletingLastPathComponent)
        }
    }

    // MARK: Events

    private func process(_ event: Event) {
        switch event {
        case let .deliver(slot, source, epoch, message):
            receive(message, at: nodes[slot], from: source, epoch: epoch)
        case let .linkUp(key, epoch):
            linkUp(key, epoch: epoch)
        case let .timeout(slot, incarnation, timeout):
            let node = nodes[slot]
            guard node.isRunning, node.incarnation == incarnation else { return }
            trace.add(now, "n\(slot) \(timeout)")
            perform(node, node.handle(.timeout(timeout)))
        case let .blocks(slot, incarnation, blocks):
            let node = nodes[slot]
            guard node.isRunning, node.incarnation == incarnation else { return }
            node.syncQueue = blocks
            feedSyncedBlock(node)
        case let .gossipTick(slot):
            tick(nodes[slot])
            queue.push(.gossipTick(slot: slot), at: now + Self.tickMs)
        case .transactions:
            injectTransaction()
            queue.push(.transactions, at: now + random.uniform(50...250))
        case let .crash(slot):
            crash(nodes[slot])
        case let .restart(slot):
            restart(nodes[slot])
        case .partition:
            let split = (0..<config.validators).map { _ in Int(random.next() % 2) }
            groups = split
            trace.add(now, "partition \(split)")
            updateLinks()
        case .heal:
            groups = nil
            trace.add(now, "heal")
            updateLinks()
        case .faultsEnd:
            faultsActive = false
            groups = nil
            for node in nodes {
                node.crashAfterEffects = nil
                if !node.isRunning { restart(node) }
            }
            faultsEndHeight = honestNodes.map(\.height).max() ?? 0
            trace.add(now, "faults end at height \(faultsEndHeight); target \(target)")
            updateLinks()
        }
    }

    private func crash(_ node: SimulatedNode) {
        guard faultsActive, node.isRunning else { return }
        if random.chance(50) {
            node.crashAfterEffects = Int(random.next() % 6)
            trace.add(now, "n\(node.slot) will crash after \(node.crashAfterEffects!) effects of its next event")
        } else {
            node.crash()
            trace.add(now, "n\(node.slot) crash")
            updateLinks()
        }
    }

    private func restart(_ node: SimulatedNode) {
        guard !node.isRunning else { return }
        do {
            try boot(node)
        } catch {
            fail("n\(node.slot) cannot restart: \(error)")
        }
        updateLinks()
    }

    /// Carries out a node's effects in order, as its driver would; a pending crash cuts the
    /// list short at a random point.
    func perform(_ node: SimulatedNode, _ effects: [ConsensusEffect]) {
        for (index, effect) in effects.enumerated() {
            if let crashPoint = node.crashAfterEffects, index >= crashPoint {
                trace.add(now, "n\(node.slot) crash after \(index) of \(effects.count) effects")
                node.crash()
                updateLinks()
                return
            }
            do {
                try perform(node, effect)
            } catch {
                fail("n\(node.slot) effect failed: \(error)")
                return
            }
            guard violation == nil else { return }
        }
        if node.crashAfterEffects != nil {
            trace.add(now, "n\(node.slot) crash after all \(effects.count) effects")
            node.crash()
            updateLinks()
            return
        }
        feedSyncedBlock(node)
    }

    private func perform(_ node: SimulatedNode, _ effect: ConsensusEffect) throws {
        switch effect {
        case let .persist(.height(height)):
            try node.wal!.startHeight(height)
        case let .persist(record):
            try node.wal!.append(record)
        case let .broadcast(message):
            trace.add(now, "n\(node.slot) -> \(describe(message))")
            if node.isHonest { checkHonestSignature(message) }
            broadcast(message, from: node)
        case let .schedule(timeout, delayMs):
            queue.push(.timeout(slot: node.slot, incarnation: node.incarnation, timeout), at: now + delayMs)
        case let .commit(block):
            try commit(block, on: node)
        case let .evidence(evidence):
            report.evidenceSeen += 1
            trace.add(now, "n\(node.slot) evidence against \(evidence.validator.hex.prefix(8)) at height \(evidence.height)")
            if node.isHonest { submitEvidence(evidence, from: node) }
        case let .requestBlocks(height):
            requestBlocks(for: node, from: height)
        }
    }

    private func commit(_ block: Block, on node: SimulatedNode) throws {
        let store = node.store!
        if node.isHonest {
            let validators = try store.validatorSet(forHeight: block.header.height)
            do { try validators.verify(block.certificate, for: block.header) } catch {
                fail("n\(node.slot) committed block \(block.header.height) whose certificate does not verify: \(error)")
                return
            }
            if let earlier = decided[block.header.height], earlier != block.hash {
                fail("agreement: n\(node.slot) committed \(block.hash.hex.prefix(12)) at height \(block.header.height), another honest node committed \(earlier.hex.prefix(12))")
                return
            }
            decided[block.header.height] = block.hash
            isolateIfAhead(node, height: block.header.height)
        }
        try node.application!.commit(block)
        if node.store!.status!.appHash != block.header.appHash {
            fail("n\(node.slot) app hash after height \(block.header.height) differs from the block's")
        }
        reportHeight(node)
        report.maxRound = max(report.maxRound, block.certificate.round)
        if !faultsActive, node.isHonest, block.header.height > faultsEndHeight + 1 {
            report.maxRoundAfterFaults = max(report.maxRoundAfterFaults, block.certificate.round)
        }
        trace.add(now, "n\(node.slot) commit h=\(block.header.height) r=\(block.certificate.round) \(block.hash.hex.prefix(8)) txs=\(block.transactions.count)")
    }

    /// The adversarial part of the partition fault: a node that decides a height before the
    /// other honest nodes is sometimes cut off at once, so they must decide without learning
    /// its decision (the situation the locking rule exists for).
    private func isolateIfAhead(_ node: SimulatedNode, height: UInt64) {
        guard faultsActive, config.faults.contains(.partition), groups == nil,
              honestNodes.contains(where: { $0.slot != node.slot && $0.height < height }), random.chance(80)
        else { return }
        groups = (0..<config.validators).map { $0 == node.validator ? 1 : 0 }
        queue.push(.heal, at: now + random.uniform(500...3_000))
        trace.add(now, "partition: n\(node.slot) decided height \(height) first and is cut off")
        updateLinks()
    }

    /// A synced block is handed to the engine only when it is the node's next height.
    private func feedSyncedBlock(_ node: SimulatedNode) {
        while node.isRunning, let block = node.syncQueue.first, block.header.height <= node.engineHeight {
            node.syncQueue.removeFirst()
            guard block.header.height == node.engineHeight, node.engineStep != .decided else { continue }
            trace.add(now, "n\(node.slot) applies synced block \(block.header.height)")
            perform(node, node.handle(.blockReceived(block)))
            return
        }
    }

    /// Fetches up to 21 committed blocks from a running peer on the same side of any partition.
    func requestBlocks(for node: SimulatedNode, from height: UInt64) {
        let peers = nodes.filter {
            $0.slot != node.slot && $0.isRunning && $0.height >= height && (groups == nil || groups![$0.validator] == groups![node.validator])
        }
        guard !peers.isEmpty else { return }
        let peer = peers[Int(random.next() % UInt64(peers.count))]
        let blocks = (height...min(peer.height, height + 20)).compactMap { try? peer.store!.block(at: $0) }
        trace.add(now, "n\(node.slot) fetches blocks \(height)... from n\(peer.slot)")
        queue.push(.blocks(slot: node.slot, incarnation: node.incarnation, blocks), at: now + 2 * random.uniform(2...30))
    }

    // MARK: Network

    /// Sends what the engine broadcast: an honest node publishes it through its router; a
    /// Byzantine one may tell different peers different things, directly over its links.
    private func broadcast(_ message: ConsensusMessage, from node: SimulatedNode) {
        var tactic = node.behavior
        if tactic == .chaotic {
            let tactics: [SimulationConfig.Behavior?] = [nil, .amnesia, .conflictingProposals, .invalidBlocks, .silent]
            tactic = tactics[Int(random.next() % UInt64(tactics.count))]
        }
        func publish(_ message: ConsensusMessage) {
            route(node, node.router.handle(.published([ConsensusGossip.item(message)])))
        }
        switch tactic {
        case nil, .twins, .chaotic:
            publish(message)
        case .silent:
            return
        case .amnesia:
            switch message {
            case let .vote(vote) where vote.vote.kind == .precommit:
                // A precommit reaches a single validator: one may decide while the others cannot.
                let targets = linkedNodes(of: node)
                if !targets.isEmpty { sendDirectly(message, from: node, to: targets[Int(random.next() % UInt64(targets.count))]) }
            case .vote:
                publish(message)
            case let .proposal(proposal):
                guard proposal.proposal.validRound != nil, let fresh = freshProposal(replacing: proposal, by: node) else {
                    return publish(message)
                }
                publish(.proposal(fresh))
            }
        case .conflictingProposals:
            guard case let .proposal(proposal) = message, let alternative = conflictingProposal(to: proposal, by: node) else {
                return publish(message)
            }
            for target in linkedNodes(of: node) {
                sendDirectly(random.chance(50) ? message : .proposal(alternative), from: node, to: target)
            }
        case .invalidBlocks:
            switch message {
            case let .vote(vote):
                // Votes for a block that does not exist, to some peers; the real vote to others.
                let bogus = SignedVote(Vote(kind: vote.vote.kind, height: vote.vote.height, round: vote.vote.round,
                                            blockHash: Digest.blake2b(Array("bogus \(random.next())".utf8))),
                                       signedBy: node.key, chainID: genesis.chainID)
                for target in linkedNodes(of: node) {
                    sendDirectly(random.chance(50) ? message : .vote(bogus), from: node, to: target)
                }
            case let .proposal(proposal):
                var candidate = proposal.candidate
                candidate.header.appHash = Digest.blake2b(Array("bad state \(random.next())".utf8))
                let invalid = SignedProposal(
                    Proposal(height: proposal.proposal.height, round: proposal.proposal.round, validRound: proposal.proposal.validRound,
                             blockHash: candidate.hash),
                    candidate: candidate, signedBy: node.key, chainID: genesis.chainID)
                publish(.proposal(invalid))
            }
        }
    }

    /// A second valid block for the same height (the same transactions a millisecond later),
    /// proposed as new.
    private func conflictingProposal(to proposal: SignedProposal, by node: SimulatedNode) -> SignedProposal? {
        var candidate = proposal.candidate
        candidate.header.timeMs += 1
        guard node.application!.isValid(candidate) else { return nil }
        return SignedProposal(
            Proposal(height: proposal.proposal.height, round: proposal.proposal.round, validRound: nil, blockHash: candidate.hash),
            candidate: candidate, signedBy: node.key, chainID: genesis.chainID)
    }

    /// A new block for the proposal's round, instead of the re-proposed valid one.
    private func freshProposal(replacing proposal: SignedProposal, by node: SimulatedNode) -> SignedProposal? {
        let candidate = node.application!.propose(proposer: node.key.publicKey)
        guard candidate.hash != proposal.candidate.hash else { return nil }
        return SignedProposal(
            Proposal(height: proposal.proposal.height, round: proposal.proposal.round, validRound: nil, blockHash: candidate.hash),
            candidate: candidate, signedBy: node.key, chainID: genesis.chainID)
    }

    // MARK: Transactions

    /// A transfer between funded accounts, originated at the most advanced honest node with
    /// the nonce it expects next, and gossiped from there.
    private func injectTransaction() {
        guard let origin = honestNodes.filter(\.isRunning).max(by: { $0.height < $1.height }), let store = origin.store else { return }
        let sender = accounts[Int(random.next() % UInt64(accounts.count))]
        let recipient = accounts[Int(random.next() % UInt64(accounts.count))]
        let nonce = origin.mempool!.nextNonce(for: sender.publicKey) { store.account(sender.publicKey).nonce }
        let transfer = Transaction(sender: sender.publicKey, nonce: nonce, fee: 1_000, body: .transfer(to: recipient.publicKey, amount: 1 + random.next() % 1_000))
            .signed(by: sender, chainID: genesis.chainID)
        originate(transfer, at: origin)
    }

    private func submitEvidence(_ evidence: DuplicateVoteEvidence, from node: SimulatedNode) {
        let store = node.store!
        let nonce = node.mempool!.nextNonce(for: node.key.publicKey) { store.account(node.key.publicKey).nonce }
        originate(Transaction(sender: node.key.publicKey, nonce: nonce, fee: 1_000, body: .evidence(evidence))
            .signed(by: node.key, chainID: genesis.chainID), at: node)
    }

    // MARK: Invariants

    private func checkHonestSignature(_ message: ConsensusMessage) {
        let slot: SignatureSlot
        let value: Digest?
        switch message {
        case let .vote(vote):
            slot = SignatureSlot(validator: vote.validator, height: vote.vote.height, round: vote.vote.round,
                                 step: vote.vote.kind == .prevote ? 1 : 2)
            value = vote.vote.blockHash
        case let .proposal(proposal):
            slot = SignatureSlot(validator: proposal.proposer, height: proposal.proposal.height, round: proposal.proposal.round, step: 0)
            value = proposal.proposal.blockHash
        }
        report.messagesSigned += 1
        if let earlier = honestSignatures[slot], earlier != value {
            fail("honest double-sign: \(slot.validator.hex.prefix(8)) signed two messages at height \(slot.height) round \(slot.round) step \(slot.step)")
            return
        }
        honestSignatures[slot] = .some(value)
    }

    func fail(_ reason: String) {
        guard violation == nil else { return }
        violation = reason
        trace.add(now, "VIOLATION: \(reason)")
    }

    private func name(_ address: Address) -> String {
        guard let index = nodes.first(where: { $0.key.publicKey == address })?.validator else { return String(address.hex.prefix(6)) }
        return "v\(index)"
    }

    func describe(_ message: ConsensusMessage) -> String {
        switch message {
        case let .vote(vote):
            "\(vote.vote.kind == .prevote ? "prevote" : "precommit") h=\(vote.vote.height) r=\(vote.vote.round) "
                + "\(vote.vote.blockHash.map { String($0.hex.prefix(8)) } ?? "nil") from \(name(vote.validator))"
        case let .proposal(proposal):
            "proposal h=\(proposal.proposal.height) r=\(proposal.proposal.round) \(proposal.proposal.blockHash.hex.prefix(8)) "
                + "vr=\(proposal.proposal.validRound.map(String.init) ?? "-") from \(name(proposal.proposer))"
        }
    }

    private func shuffle(_ values: inout [Int]) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
    }
}

/// The last events of a run, kept to explain a failure.
struct Trace {
    let capacity: Int
    private var buffer: [String] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func add(_ time: UInt64, _ line: String) {
        let entry = "t=\(time)ms \(line)"
        if buffer.count < capacity { buffer.append(entry) } else {
            buffer[next] = entry
            next = (next + 1) % capacity
        }
    }

    var lines: [String] { Array(buffer[next...] + buffer[..<next]) }
}

/// What a simulation run did.
public struct SimulationReport: Sendable {
    public var validators = 0
    public var byzantine: [String] = []
    public var finalHeight: UInt64 = 0
    public var simulatedMs: UInt64 = 0
    public var maxRound: UInt32 = 0
    /// The highest round in which a height that started after the faults stopped was decided.
    public var maxRoundAfterFaults: UInt32 = 0
    public var messagesSigned = 0
    public var evidenceSeen = 0
    /// Messages put on links (items, announcements and requests), and copies of consensus
    /// messages a node had already handled.
    public var linkMessages = 0
    public var duplicateMessages = 0
    /// What broke, if anything.
    public var violation: String?
    /// The last events before the violation.
    public var trace: [String] = []
}
