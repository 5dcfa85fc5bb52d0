import Crypto
import Dispatch
import Foundation
import Gossip
import Ledger

/// Applies committed blocks fetched from peers while a node catches up (block sync): each
/// block's certificate is checked against the validator set of its height — known from the
/// chain verified so far, starting at genesis — then the block is executed and committed with
/// one synced write, as consensus commits.
///
/// Two stages overlap: a batch's signatures (certificate and transactions, which need no
/// state) are verified on every core while the batch before it executes on `applyQueue`.
final class BlockSyncer: @unchecked Sendable {
    /// What became of a batch: every block up to `appliedThrough` is committed; `rejection`
    /// names the first block that failed and the peer that sent it.
    struct Outcome: Sendable {
        let appliedThrough: UInt64
        let rejection: (height: UInt64, peer: NodeID, reason: String)?
    }

    /// Signature checks per unit of parallel work.
    static let signaturesPerUnit = 128

    private let store: ChainStore
    private let execution: BlockExecution
    private let chainID: String
    private let verifyQueue = DispatchQueue(label: "tributary.sync.verify")
    private let applyQueue = DispatchQueue(label: "tributary.sync.apply")
    private let onCommit: @Sendable (Block) -> Void

    /// `onCommit` hears of each committed block, on the apply queue.
    init(store: ChainStore, onCommit: @escaping @Sendable (Block) -> Void) {
        self.store = store
        self.execution = BlockExecution(store: store)
        self.chainID = store.status!.chainID
        self.onCommit = onCommit
    }

    /// Verifies and commits `blocks` (consecutive heights) and reports on the apply queue.
    /// Blocks at or below the committed height are skipped; a gap ends the batch quietly
    /// (a rejected block before it took the heights back).
    func apply(_ blocks: [(height: UInt64, block: Block, from: NodeID)], done: @escaping @Sendable (Outcome) -> Void) {
        verifyQueue.async { [self] in
            let signaturesValid = checkSignatures(blocks.map(\.block))
            applyQueue.async { [self] in done(commit(blocks, signaturesValid: signaturesValid)) }
        }
    }

    /// Waits until every batch handed in so far is finished.
    func drain() {
        verifyQueue.sync {}
        applyQueue.sync {}
    }

    private func commit(_ blocks: [(height: UInt64, block: Block, from: NodeID)], signaturesValid: [Bool]) -> Outcome {
        for (index, entry) in blocks.enumerated() {
            let committed = store.status!.height
            if entry.height <= committed { continue }
            guard entry.height == committed + 1 else { return Outcome(appliedThrough: committed, rejection: nil) }
            guard signaturesValid[index] else {
                return Outcome(appliedThrough: committed, rejection: (entry.height, entry.from, "a signature does not verify"))
            }
            do {
                let executed = try execution.verify(entry.block, certificateSignaturesChecked: true) { _ in true }
                try store.commit(entry.block, stateWrites: executed.stateWrites, tree: executed.tree)
            } catch {
                return Outcome(appliedThrough: committed, rejection: (entry.height, entry.from, "\(error)"))
            }
            onCommit(entry.block)
        }
        return Outcome(appliedThrough: store.status!.height, rejection: nil)
    }

    /// Whether each block's certificate and transaction signatures all verify, checked in
    /// parallel units of at most `signaturesPerUnit` signatures.
    private func checkSignatures(_ blocks: [Block]) -> [Bool] {
        struct Unit { let block: Int; let transactions: Range<Int>? }
        var plan: [Unit] = []
        for (index, block) in blocks.enumerated() {
            plan.append(Unit(block: index, transactions: nil))
            for start in stride(from: 0, to: block.transactions.count, by: Self.signaturesPerUnit) {
                plan.append(Unit(block: index, transactions: start..<min(start + Self.signaturesPerUnit, block.transactions.count)))
            }
        }
        let units = plan
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: units.count)
        defer { results.deallocate() }
        nonisolated(unsafe) let unsafeResults = results
        let chainID = chainID
        DispatchQueue.concurrentPerform(iterations: units.count) { index in
            let unit = units[index]
            let block = blocks[unit.block]
            unsafeResults[index] = if let range = unit.transactions {
                block.transactions[range].allSatisfy { $0.hasValidSignature(chainID: chainID) }
            } else {
                block.certificate.hasValidSignatures(for: block.header)
            }
        }
        var valid = [Bool](repeating: true, count: blocks.count)
        for (index, unit) in units.enumerated() where !results[index] { valid[unit.block] = false }
        return valid
    }
}
