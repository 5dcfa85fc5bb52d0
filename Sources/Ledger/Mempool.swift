import Crypto
import Synchronization

/// Pending transactions waiting for a block.
///
/// Only transactions whose signature was checked enter (the node checks on submission, once).
/// Each account's transactions are kept by nonce; a block takes, per account, the run of
/// consecutive nonces starting at the account's committed nonce. Limits bound memory and
/// abuse: a total count and bytes; a window of nonces per account; at most `gapsMax`
/// transactions per account waiting behind a missing nonce; and the sender's balance (as the
/// caller gives it: the node adds unbonded stake the next block releases and leaves out what
/// vesting locks) must cover the debits — fees, and amounts sent or staked — of everything it
/// has pending, so a sender cannot queue transactions that would fail, unpaid, for want of
/// funds once earlier ones ran. When full, a transaction that could run next
/// evicts one waiting behind a gap.
public final class Mempool: Sendable {
    public struct Limits: Sendable {
        public var transactionsMax: Int
        public var bytesMax: Int
        /// How far past its committed nonce an account may queue transactions.
        public var perAccountMax: Int
        /// How many transactions of one account may wait behind a missing nonce.
        public var gapsMax: Int

        public init(transactionsMax: Int = 50_000, bytesMax: Int = 64 << 20, perAccountMax: Int = 1_000, gapsMax: Int = 16) {
            self.transactionsMax = transactionsMax
            self.bytesMax = bytesMax
            self.perAccountMax = perAccountMax
            self.gapsMax = gapsMax
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
        /// Per sender, the sum of its pending transactions' `debit`s.
        var debits: [Address: UInt64] = [:]
        var bytes = 0
        var arrivals: UInt64 = 0

        mutating func insert(_ entry: Entry) {
            let transaction = entry.transaction.transaction
            byHash[entry.transaction.hash] = entry
            byAccount[transaction.sender, default: [:]][transaction.nonce] = entry.transaction.hash
            debits[transaction.sender, default: 0] += transaction.debit
            bytes += entry.bytes
        }

        mutating func drop(_ entry: Entry) {
            let transaction = entry.transaction.transaction
            byHash[entry.transaction.hash] = nil
            byAccount[transaction.sender]?[transaction.nonce] = nil
            debits[transaction.sender, default: 0] -= transaction.debit
            if byAccount[transaction.sender]?.isEmpty == true {
                byAccount[transaction.sender] = nil
                debits[transaction.sender] = nil
            }
            bytes -= entry.bytes
        }

        /// The first nonce after `committed` that `sender` has no pending transaction for.
        func nextNonce(_ sender: Address, committed: UInt64) -> UInt64 {
            var nonce = committed
            while byAccount[sender]?[nonce] != nil { nonce += 1 }
            return nonce
        }

        /// Drops `sender`'s transactions with nonces below `committed`.
        mutating func dropStale(_ sender: Address, committed: UInt64) {
            for (nonce, hash) in byAccount[sender] ?? [:] where nonce < committed {
                if let entry = byHash[hash] { drop(entry) }
            }
        }

        /// The latest arrival among transactions waiting behind a missing nonce.
        func newestGapped(committedNonce: (Address) -> UInt64) -> Entry? {
            var newest: Entry?
            for (sender, byNonce) in byAccount {
                let next = nextNonce(sender, committed: committedNonce(sender))
                for (nonce, hash) in byNonce where nonce > next {
                    if let entry = byHash[hash], entry.arrival > newest?.arrival ?? 0 { newest = entry }
                }
            }
            return newest
        }
    }

    public let limits: Limits
    private let pool = Mutex(Pool())

    public init(limits: Limits = Limits()) { self.limits = limits }

    public var count: Int { pool.withLock { $0.byHash.count } }
    public var bytes: Int { pool.withLock { $0.bytes } }

    /// The nonce a new transaction of `sender` should carry: the committed nonce advanced past
    /// the sender's consecutive pending transactions. `committedNonce` is read under the
    /// mempool's lock: a commit writes the store before it removes the block's transactions
    /// under that lock, so the two agree. (Read before the lock, a commit landing in between
    /// would leave the old nonce with its transactions gone, and the new transaction would
    /// reuse a committed nonce.)
    public func nextNonce(for sender: Address, committedNonce: () -> UInt64) -> UInt64 {
        pool.withLock { $0.nextNonce(sender, committed: committedNonce()) }
    }

    /// Whether `sender`'s transaction at its committed nonce is pending: the sender's pending
    /// transactions can run from the next block on.
    public func isReady(_ sender: Address, committedNonce: UInt64) -> Bool {
        pool.withLock { $0.byAccount[sender]?[committedNonce] != nil }
    }

    /// Whether any sender's transaction at its committed nonce is pending — what `reap` takes
    /// first. Transactions waiting behind a missing nonce alone make no block worth proposing.
    /// The store is read outside the lock, which admissions need meanwhile.
    public func hasReady(committedNonce: (Address) -> UInt64) -> Bool {
        let senders = pool.withLock { Array($0.byAccount.keys) }
        return senders.contains { isReady($0, committedNonce: committedNonce($0)) }
    }

    /// Whether a transaction with `hash` is pending (its signature was checked on admission).
    public func contains(_ hash: Digest) -> Bool {
        pool.withLock { $0.byHash[hash] != nil }
    }

    /// The pending transaction with `hash`, if any.
    public func transaction(_ hash: Digest) -> SignedTransaction? {
        pool.withLock { $0.byHash[hash]?.transaction }
    }

    /// Admits a signature-checked transaction whose sender's committed account is `account`.
    /// `committedNonce` gives other senders' committed nonces, for eviction when full.
    public func add(_ transaction: SignedTransaction, account: Account,
                    committedNonce: (Address) -> UInt64) throws(MempoolRejection) {
        let size = transaction.byteCount
        let nonce = transaction.transaction.nonce
        let sender = transaction.transaction.sender
        try pool.withLock { (pool: inout Pool) throws(MempoolRejection) in
            guard pool.byHash[transaction.hash] == nil else { throw .alreadyKnown }
            guard nonce >= account.nonce else { throw .staleNonce(committed: account.nonce, got: nonce) }
            guard nonce - account.nonce < UInt64(limits.perAccountMax) else {
                throw .nonceTooFarAhead(committed: account.nonce, got: nonce, window: limits.perAccountMax)
            }
            guard pool.byAccount[sender]?[nonce] == nil else { throw .nonceTaken(nonce) }
            let next = pool.nextNonce(sender, committed: account.nonce)
            if nonce > next {
                let gapped = pool.byAccount[sender]?.keys.filter { $0 > next }.count ?? 0
                guard gapped < limits.gapsMax else { throw .tooManyGaps(next: next, max: limits.gapsMax) }
            }
            let (debits, overflow) = (pool.debits[sender] ?? 0).addingReportingOverflow(transaction.transaction.debit)
            guard !overflow, debits <= account.balance else { throw .debitsExceedBalance(balance: account.balance) }
            while pool.byHash.count >= limits.transactionsMax || pool.bytes + size > limits.bytesMax {
                guard nonce == next, let victim = pool.newestGapped(committedNonce: committedNonce) else { throw .full }
                pool.drop(victim)
            }
            pool.arrivals += 1
            pool.insert(Entry(transaction: transaction, bytes: size, arrival: pool.arrivals))
        }
    }

    /// Up to `countMax` transactions (and `bytesMax` bytes) ready to execute: for each account,
    /// consecutive nonces from its committed nonce. Accounts take turns in arrival order of
    /// their first ready transaction, one transaction per turn, so no sender crowds out others.
    /// Transactions whose nonce is already committed are dropped on the way.
    public func reap(countMax: Int, bytesMax: Int, committedNonce: (Address) -> UInt64) -> [SignedTransaction] {
        pool.withLock { pool in
            var queues: [(arrival: UInt64, entries: [Entry])] = []
            for sender in Array(pool.byAccount.keys) {
                let committed = committedNonce(sender)
                pool.dropStale(sender, committed: committed)
                var nonce = committed
                var run: [Entry] = []
                while let hash = pool.byAccount[sender]?[nonce], let entry = pool.byHash[hash] {
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
            for sender in senders { pool.dropStale(sender, committed: committedNonce(sender)) }
        }
    }

    /// Drops, for every sender of a committed block, the transactions whose nonce is now
    /// used: the block's own (every executed transaction advances its sender's nonce) and ones
    /// this pool held instead of them (another transaction of the same nonce may have reached
    /// the proposer first).
    public func removeCommitted(_ transactions: [SignedTransaction], committedNonce: (Address) -> UInt64) {
        pool.withLock { pool in
            for sender in Set(transactions.map(\.transaction.sender)) { pool.dropStale(sender, committed: committedNonce(sender)) }
        }
    }
}

/// Why the mempool refused a transaction.
public enum MempoolRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case alreadyKnown
    case staleNonce(committed: UInt64, got: UInt64)
    case nonceTooFarAhead(committed: UInt64, got: UInt64, window: Int)
    case nonceTaken(UInt64)
    case tooManyGaps(next: UInt64, max: Int)
    case debitsExceedBalance(balance: UInt64)
    case full

    public var code: String {
        switch self {
        case .alreadyKnown: "already_known"
        case .staleNonce: "wrong_nonce"
        case .nonceTooFarAhead: "nonce_too_far_ahead"
        case .nonceTaken: "nonce_taken"
        case .tooManyGaps: "too_many_gaps"
        case .debitsExceedBalance: "insufficient_funds"
        case .full: "mempool_full"
        }
    }

    public var description: String {
        switch self {
        case .alreadyKnown: "transaction is already pending"
        case let .staleNonce(committed, got): "nonce \(got) is already used; the account's next nonce is \(committed)"
        case let .nonceTooFarAhead(committed, got, window): "nonce \(got) is more than \(window) ahead of the next nonce \(committed)"
        case let .nonceTaken(nonce): "another pending transaction of this sender has nonce \(nonce)"
        case let .tooManyGaps(next, max): "\(max) transactions already wait for the missing nonce \(next)"
        case let .debitsExceedBalance(balance): "the fees and amounts of this sender's pending transactions exceed its spendable balance \(balance)"
        case .full: "mempool is full; retry later"
        }
    }
}
