import Crypto
import Synchronization

/// Pending transactions waiting for a block.
///
/// Only transactions whose signature was checked enter (the node checks on submission, once).
/// Each account's transactions are kept by nonce; a block takes, per account, the run of
/// consecutive nonces starting at the account's committed nonce. Limits bound memory: a
/// total count and bytes, and a window of nonces per account.
public final class Mempool: Sendable {
    public struct Limits: Sendable {
        public var transactionsMax: Int
        public var bytesMax: Int
        /// How far past its committed nonce an account may queue transactions.
        public var perAccountMax: Int

        public init(transactionsMax: Int = 50_000, bytesMax: Int = 64 << 20, perAccountMax: Int = 1_000) {
            self.transactionsMax = transactionsMax
            self.bytesMax = bytesMax
            self.perAccountMax = perAccountMax
        }
    }

    private struct Entry {
        let transaction: SignedTransaction
        let bytes: Int
        let arrival: UInt64
    }

    private struct Pool {
        var byHash: [Digest: Entry] = [:]
        var byAccount: [Address: [UInt64: Digest]] = [:]
        var bytes = 0
        var arrivals: UInt64 = 0

        mutating func drop(_ entry: Entry) {
            let sender = entry.transaction.transaction.sender
            byHash[entry.transaction.hash] = nil
            byAccount[sender]?[entry.transaction.transaction.nonce] = nil
            if byAccount[sender]?.isEmpty == true { byAccount[sender] = nil }
            bytes -= entry.bytes
        }
    }

    public let limits: Limits
    private let pool = Mutex(Pool())

    public init(limits: Limits = Limits()) { self.limits = limits }

    public var count: Int { pool.withLock { $0.byHash.count } }
    public var bytes: Int { pool.withLock { $0.bytes } }

    /// The nonce a new transaction of `sender` should carry: the committed nonce advanced past
    /// the sender's consecutive pending transactions.
    public func nextNonce(for sender: Address, committedNonce: UInt64) -> UInt64 {
        pool.withLock { pool in
            var nonce = committedNonce
            while pool.byAccount[sender]?[nonce] != nil { nonce += 1 }
            return nonce
        }
    }

    /// The pending transaction with `hash`, if any.
    public func transaction(_ hash: Digest) -> SignedTransaction? {
        pool.withLock { $0.byHash[hash]?.transaction }
    }

    /// Admits a signature-checked transaction given its sender's committed nonce.
    public func add(_ transaction: SignedTransaction, committedNonce: UInt64) throws(MempoolRejection) {
        let size = transaction.canonicalBytes.count
        let nonce = transaction.transaction.nonce
        let sender = transaction.transaction.sender
        try pool.withLock { (pool: inout Pool) throws(MempoolRejection) in
            guard pool.byHash[transaction.hash] == nil else { throw .alreadyKnown }
            guard nonce >= committedNonce else { throw .staleNonce(committed: committedNonce, got: nonce) }
            guard nonce - committedNonce < UInt64(limits.perAccountMax) else {
                throw .nonceTooFarAhead(committed: committedNonce, got: nonce, window: limits.perAccountMax)
            }
            guard pool.byAccount[sender]?[nonce] == nil else { throw .nonceTaken(nonce) }
            guard pool.byHash.count < limits.transactionsMax, pool.bytes + size <= limits.bytesMax else { throw .full }
            pool.arrivals += 1
            pool.byHash[transaction.hash] = Entry(transaction: transaction, bytes: size, arrival: pool.arrivals)
            pool.byAccount[sender, default: [:]][nonce] = transaction.hash
            pool.bytes += size
        }
    }

    /// Up to `countMax` transactions (and `bytesMax` bytes) ready to execute: for each account,
    /// consecutive nonces from its committed nonce. Accounts take turns in arrival order of
    /// their first ready transaction, one transaction per turn, so no sender crowds out others.
    public func reap(countMax: Int, bytesMax: Int, committedNonce: (Address) -> UInt64) -> [SignedTransaction] {
        pool.withLock { pool in
            var queues: [(arrival: UInt64, entries: [Entry])] = []
            for (sender, byNonce) in pool.byAccount {
                var nonce = committedNonce(sender)
                var run: [Entry] = []
                while let hash = byNonce[nonce], let entry = pool.byHash[hash] {
                    run.append(entry)
                    nonce += 1
                }
                if let first = run.first { queues.append((first.arrival, run)) }
            }
            queues.sort { $0.arrival < $1.arrival }
            var picked: [SignedTransaction] = []
            var pickedBytes = 0
            var round = 0
            var progressed = true
            while progressed && picked.count < countMax {
                progressed = false
                for queue in queues where round < queue.entries.count {
                    let entry = queue.entries[round]
                    guard picked.count < countMax, pickedBytes + entry.bytes <= bytesMax else { return picked }
                    picked.append(entry.transaction)
                    pickedBytes += entry.bytes
                    progressed = true
                }
                round += 1
            }
            return picked
        }
    }

    /// Drops the given transactions (committed or rejected) and every transaction whose nonce
    /// is now below its sender's committed nonce.
    public func remove(_ hashes: some Sequence<Digest>, committedNonce: (Address) -> UInt64) {
        pool.withLock { pool in
            var senders = Set<Address>()
            for hash in hashes {
                guard let entry = pool.byHash[hash] else { continue }
                senders.insert(entry.transaction.transaction.sender)
                pool.drop(entry)
            }
            for sender in senders {
                let committed = committedNonce(sender)
                for (nonce, hash) in pool.byAccount[sender] ?? [:] where nonce < committed {
                    if let entry = pool.byHash[hash] { pool.drop(entry) }
                }
            }
        }
    }
}

/// Why the mempool refused a transaction.
public enum MempoolRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case alreadyKnown
    case staleNonce(committed: UInt64, got: UInt64)
    case nonceTooFarAhead(committed: UInt64, got: UInt64, window: Int)
    case nonceTaken(UInt64)
    case full

    public var code: String {
        switch self {
        case .alreadyKnown: "already_known"
        case .staleNonce: "wrong_nonce"
        case .nonceTooFarAhead: "nonce_too_far_ahead"
        case .nonceTaken: "nonce_taken"
        case .full: "mempool_full"
        }
    }

    public var description: String {
        switch self {
        case .alreadyKnown: "transaction is already pending"
        case let .staleNonce(committed, got): "nonce \(got) is already used; the account's next nonce is \(committed)"
        case let .nonceTooFarAhead(committed, got, window): "nonce \(got) is more than \(window) ahead of the next nonce \(committed)"
        case let .nonceTaken(nonce): "another pending transaction of this sender has nonce \(nonce)"
        case .full: "mempool is full; retry later"
        }
    }
}
