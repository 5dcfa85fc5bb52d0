import Crypto

/// Which committed blocks a node that is behind asks which peers for, as a pure state
/// machine: events in (peer heights, answers, ticks, what the node applied or rejected),
/// requests out. The node verifies and applies the blocks; the pool only schedules.
///
/// The pool keeps a window of `Limits.windowBlocksMax` heights above the last applied one.
/// Each missing height of the window is asked of one peer that has it, in requests of at
/// most `Limits.requestBlocksMax` consecutive heights, at most `Limits.requestsPerPeerMax`
/// requests outstanding per peer — so several peers serve one node in parallel. A request
/// unanswered for `Limits.requestTimeoutTicks` goes to another peer; a peer that sends no
/// blocks through `Limits.unansweredInARowMax` such timeouts loses its height claim, and is
/// reported (`.unanswered`) when no other peer claims those heights. A block the node
/// rejects gets its sender reported (`.misbehaved`), every block from that sender is dropped
/// and asked again of others.
///
/// `Block` is whatever the node keeps per height; the node checks that an answer's blocks have
/// the heights asked before handing them in.
public struct BlockSyncPool<Block: Sendable>: Sendable {
    public struct Limits: Sendable {
        /// Heights above the last applied one that are asked for or held at once.
        public var windowBlocksMax: UInt64 = 512
        /// Blocks asked for in one request.
        public var requestBlocksMax: UInt32 = 32
        public var requestsPerPeerMax = 3
        public var requestTimeoutTicks: UInt64 = 30
        /// Timeouts in a row, with no blocks from the peer between them, after which its height
        /// claim is no longer believed (a slow peer that delivers now and then is never hit).
        public var unansweredInARowMax = 3

        public init() {}
    }

    /// One outstanding request: heights `fromHeight ..< fromHeight + count` asked of `peer`.
    struct Request: Hashable, Sendable {
        let peer: NodeID
        let fromHeight: UInt64
    }

    enum Slot: Sendable {
        case requested(Request)
        case received(Block, from: NodeID)
    }

    public let limits: Limits
    /// The last height the node applied (committed).
    public private(set) var appliedHeight: UInt64
    /// Heights up to this one were handed to the node by `takeReady` and are being applied.
    public private(set) var handedOutHeight: UInt64
    /// Each connected peer's last committed height, as it said.
    public private(set) var peerHeights: [NodeID: UInt64] = [:]
    public private(set) var tick: UInt64 = 0
    private var slots: [UInt64: Slot] = [:]
    private var requests: [Request: (count: UInt32, tick: UInt64)] = [:]
    /// Rotates the choice among equally loaded peers.
    private var nextPeerIndex = 0
    /// Whether missing heights are asked for; while inactive, answers are still taken.
    public private(set) var isActive = true
    /// Peers that let a request time out are asked only when no other peer can be, until this tick.
    private var slowUntilTick: [NodeID: UInt64] = [:]
    /// Ticks on which each peer let requests time out since it last sent blocks.
    private var unansweredInARow: [NodeID: Int] = [:]

    public init(appliedHeight: UInt64, limits: Limits = Limits()) {
        self.limits = limits
        self.appliedHeight = appliedHeight
        self.handedOutHeight = appliedHeight
    }

    /// The highest height any connected peer has committed.
    public var targetHeight: UInt64 { peerHeights.values.max() ?? 0 }

    /// Whether the node is within one height of its highest peer (and has heard from one).
    public var isCaughtUp: Bool { !peerHeights.isEmpty && appliedHeight + 1 >= targetHeight }

    /// Requests outstanding, for tests and metrics.
    public var requestsOutstanding: Int { requests.count }

    public mutating func handle(_ event: BlockSyncEvent<Block>) -> [BlockSyncEffect] {
        switch event {
        case let .peerHeight(peer, height):
            peerHeights[peer] = max(peerHeights[peer] ?? 0, height)
        case let .peerRemoved(peer):
            peerHeights[peer] = nil
            slowUntilTick[peer] = nil
            unansweredInARow[peer] = nil
            forgetRequests(of: peer)
        case let .received(peer, fromHeight, blocks, peerHeight):
            if blocks.isEmpty {
                // The peer lacks the height, whatever it said before.
                let has = min(peerHeight, fromHeight - 1)
                peerHeights[peer] = has
                for request in requests.keys where request.peer == peer && request.fromHeight > has { cancel(request) }
            } else {
                peerHeights[peer] = max(peerHeights[peer] ?? 0, peerHeight)
                unansweredInARow[peer] = nil
                receive(Request(peer: peer, fromHeight: fromHeight), blocks)
            }
        case .tick:
            tick += 1
            let late = requests.filter { tick - $0.value.tick >= limits.requestTimeoutTicks }.keys
            var timedOut: [NodeID: UInt64] = [:]  // per peer, the lowest height it left unanswered
            for request in late {
                cancel(request)
                slowUntilTick[request.peer] = tick + limits.requestTimeoutTicks
                timedOut[request.peer] = min(timedOut[request.peer] ?? .max, request.fromHeight)
            }
            var unanswering: [NodeID] = []
            for (peer, fromHeight) in timedOut {
                unansweredInARow[peer, default: 0] += 1
                guard unansweredInARow[peer]! >= limits.unansweredInARowMax else { continue }
                // A peer that has sent nothing through several timeouts is taken to have only the
                // heights below the one asked until it says more, so a claim it never backs stops
                // driving the sync; for heights no other peer claims (a lie meant to keep the
                // node syncing, out of consensus, or a peer no use to it) it is reported.
                let othersHave = peerHeights.filter { $0.key != peer }.values.max() ?? 0
                if fromHeight > othersHave { unanswering.append(peer) }
                if let claimed = peerHeights[peer] { peerHeights[peer] = min(claimed, fromHeight - 1) }
            }
            slowUntilTick = slowUntilTick.filter { $0.value > tick }
            return unanswering.sorted().map { .unanswered($0) } + schedule()
        }
        return schedule()
    }

    /// The received blocks that follow the ones handed out, in height order, with their
    /// senders; they count as handed out until `applied` or `rejected` says what became of them.
    public mutating func takeReady(countMax: Int) -> [(height: UInt64, block: Block, from: NodeID)] {
        var ready: [(height: UInt64, block: Block, from: NodeID)] = []
        while ready.count < countMax, case let .received(block, peer)? = slots[handedOutHeight + 1] {
            handedOutHeight += 1
            ready.append((handedOutHeight, block, peer))
        }
        return ready
    }

    /// Starts or stops asking for blocks (a node that follows consensus asks only when it
    /// lags); stopping cancels the outstanding requests.
    public mutating func setActive(_ active: Bool) -> [BlockSyncEffect] {
        isActive = active
        if !active { for request in requests.keys { cancel(request) } }
        return schedule()
    }

    /// Forgets the blocks received but not applied — handed out or not — and asks again, as
    /// when whoever took them could not use them.
    public mutating func discardUnapplied() -> [BlockSyncEffect] {
        handedOutHeight = appliedHeight
        for (height, slot) in slots { if case .received = slot { slots[height] = nil } }
        return schedule()
    }

    /// The node committed every height up to `height` (by sync or by consensus).
    public mutating func applied(through height: UInt64) -> [BlockSyncEffect] {
        guard height > appliedHeight else { return [] }
        for old in (appliedHeight + 1)...height { slots[old] = nil }
        for request in requests.keys where request.fromHeight + UInt64(requests[request]!.count) <= height + 1 {
            requests[request] = nil
        }
        appliedHeight = height
        handedOutHeight = max(handedOutHeight, height)
        assert(slots.keys.allSatisfy { $0 > appliedHeight }, "slots at or below the applied height")
        return schedule()
    }

    /// The block at `height` failed the node's checks: its sender misbehaved. Blocks handed out
    /// after it are taken back; everything that peer sent or was asked is asked of others.
    public mutating func rejected(height: UInt64, from peer: NodeID, reason: String) -> [BlockSyncEffect] {
        assert(height == appliedHeight + 1, "a rejected block must be the next one to apply")
        handedOutHeight = appliedHeight
        for (slotHeight, slot) in slots {
            if case let .received(_, sender) = slot, sender == peer { slots[slotHeight] = nil }
        }
        slots[height] = nil
        peerHeights[peer] = nil
        forgetRequests(of: peer)
        return [.misbehaved(peer, reason: reason)] + schedule()
    }

    // MARK: Internals

    private mutating func receive(_ request: Request, _ blocks: [Block]) {
        guard let outstanding = requests.removeValue(forKey: request) else { return }  // late, or never asked
        for offset in 0..<UInt64(outstanding.count) {
            let height = request.fromHeight + offset
            guard case let .requested(owner)? = slots[height], owner == request else { continue }
            slots[height] = offset < UInt64(blocks.count) ? .received(blocks[Int(offset)], from: request.peer) : nil
        }
    }

    private mutating func cancel(_ request: Request) {
        guard let outstanding = requests.removeValue(forKey: request) else { return }
        for height in request.fromHeight..<(request.fromHeight + UInt64(outstanding.count)) {
            if case let .requested(owner)? = slots[height], owner == request { slots[height] = nil }
        }
    }

    private mutating func forgetRequests(of peer: NodeID) {
        for request in requests.keys where request.peer == peer { cancel(request) }
    }

    /// Asks for every missing height of the window that some peer has.
    private mutating func schedule() -> [BlockSyncEffect] {
        guard isActive else { return [] }
        var effects: [BlockSyncEffect] = []
        let windowEnd = min(appliedHeight + limits.windowBlocksMax, targetHeight)
        var height = appliedHeight + 1
        while height <= windowEnd {
            guard slots.index(forKey: height) == nil else {  // (no copy of the slot and its block)
                height += 1
                continue
            }
            var count: UInt32 = 1
            while count < limits.requestBlocksMax, height + UInt64(count) <= windowEnd, slots.index(forKey: height + UInt64(count)) == nil {
                count += 1
            }
            guard let peer = choosePeer(having: height) else { break }
            let request = Request(peer: peer, fromHeight: height)
            let last = min(height + UInt64(count) - 1, peerHeights[peer]!)
            count = UInt32(last - height + 1)
            requests[request] = (count, tick)
            for asked in height...last { slots[asked] = .requested(request) }
            effects.append(.request(peer, fromHeight: height, count: count))
            height = last + 1
        }
        return effects
    }

    /// The least loaded peer that has committed `height`, with room for another request —
    /// one that was slow lately only when there is no other.
    private mutating func choosePeer(having height: UInt64) -> NodeID? {
        var load: [NodeID: Int] = [:]
        for request in requests.keys { load[request.peer, default: 0] += 1 }
        let able = peerHeights.filter { $0.value >= height && load[$0.key, default: 0] < limits.requestsPerPeerMax }.keys.sorted()
        let prompt = able.filter { slowUntilTick[$0] == nil }
        let candidates = prompt.isEmpty ? able : prompt
        guard !candidates.isEmpty else { return nil }
        nextPeerIndex &+= 1
        let rotated = candidates.indices.map { candidates[($0 + nextPeerIndex) % candidates.count] }
        return rotated.min { load[$0, default: 0] < load[$1, default: 0] }
    }
}

public enum BlockSyncEvent<Block: Sendable>: Sendable {
    /// A peer said (by a status, or by consensus messages of the next height) it committed `height`.
    case peerHeight(NodeID, UInt64)
    case peerRemoved(NodeID)
    /// A peer's answer to the request from `fromHeight`: consecutive blocks from that height
    /// (fewer than asked when an answer's size ran out), and its last committed height.
    case received(from: NodeID, fromHeight: UInt64, blocks: [Block], peerHeight: UInt64)
    case tick
}

public enum BlockSyncEffect: Sendable, Equatable {
    /// Ask `peer` for `count` committed blocks from `fromHeight`.
    case request(NodeID, fromHeight: UInt64, count: UInt32)
    /// `peer` sent a block that failed verification: drop and ban it.
    case misbehaved(NodeID, reason: String)
    /// `peer` left unanswered past the timeout a request for heights no other peer claims: a
    /// penalty, so one that keeps claiming heights it never sends is banned in the end.
    case unanswered(NodeID)
}
