import Crypto

/// An account: spendable and locked tokens together in `balance`, and the nonce its next
/// transaction must carry.
public struct Account: Hashable, Sendable, CanonicalCodable {
    public var balance: UInt64
    public var nonce: UInt64

    public init(balance: UInt64 = 0, nonce: UInt64 = 0) {
        self.balance = balance
        self.nonce = nonce
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(balance)
        writer.write(nonce)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        balance = try reader.readUInt64()
        nonce = try reader.readUInt64()
    }
}

/// Tokens granted at genesis that unlock over time: nothing before `startTime + cliffSeconds`,
/// then linearly from `startTime` until everything is free at `startTime + durationSeconds`.
public struct VestingSchedule: Hashable, Sendable, CanonicalCodable {
    public var amount: UInt64
    /// Unix seconds.
    public var startTime: UInt64
    public var cliffSeconds: UInt64
    public var durationSeconds: UInt64

    public init(amount: UInt64, startTime: UInt64, cliffSeconds: UInt64, durationSeconds: UInt64) {
        self.amount = amount
        self.startTime = startTime
        self.cliffSeconds = cliffSeconds
        self.durationSeconds = durationSeconds
    }

    /// The part of `amount` still locked at unix time `now` (seconds).
    public func lockedAmount(at now: UInt64) -> UInt64 {
        guard now >= startTime + cliffSeconds else { return amount }
        let elapsed = now - startTime
        guard elapsed < durationSeconds else { return 0 }
        // amount * elapsed / duration in 128 bits: exact and without overflow.
        let product = amount.multipliedFullWidth(by: elapsed)
        let (unlocked, _) = durationSeconds.dividingFullWidth(product)
        return amount - unlocked
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(amount)
        writer.write(startTime)
        writer.write(cliffSeconds)
        writer.write(durationSeconds)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        amount = try reader.readUInt64()
        startTime = try reader.readUInt64()
        cliffSeconds = try reader.readUInt64()
        durationSeconds = try reader.readUInt64()
    }
}

/// A registered datanet and what has been contributed to it so far.
public struct Datanet: Hashable, Sendable, CanonicalCodable {
    public var owner: Address
    public var name: String
    public var description: String
    public var createdHeight: UInt64
    public var contributionCount: UInt64
    public var contributedBytes: UInt64

    public init(owner: Address, name: String, description: String, createdHeight: UInt64,
                contributionCount: UInt64 = 0, contributedBytes: UInt64 = 0) {
        self.owner = owner
        self.name = name
        self.description = description
        self.createdHeight = createdHeight
        self.contributionCount = contributionCount
        self.contributedBytes = contributedBytes
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(owner)
        writer.write(string: name, max: TransactionBody.nameMaxBytes)
        writer.write(string: description, max: TransactionBody.descriptionMaxBytes)
        writer.write(createdHeight)
        writer.write(contributionCount)
        writer.write(contributedBytes)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        owner = try reader.read()
        name = try reader.readString(max: TransactionBody.nameMaxBytes, field: "datanet name")
        description = try reader.readString(max: TransactionBody.descriptionMaxBytes, field: "datanet description")
        createdHeight = try reader.readUInt64()
        contributionCount = try reader.readUInt64()
        contributedBytes = try reader.readUInt64()
    }
}

/// One piece of content contributed to a datanet.
public struct Contribution: Hashable, Sendable, CanonicalCodable {
    public var contributor: Address
    public var sizeBytes: UInt64
    public var height: UInt64

    public init(contributor: Address, sizeBytes: UInt64, height: UInt64) {
        self.contributor = contributor
        self.sizeBytes = sizeBytes
        self.height = height
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(contributor)
        writer.write(sizeBytes)
        writer.write(height)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        contributor = try reader.read()
        sizeBytes = try reader.readUInt64()
        height = try reader.readUInt64()
    }
}

/// A registered LoRA adapter.
public struct AdapterRecord: Hashable, Sendable, CanonicalCodable {
    public var owner: Address
    public var baseModelHash: Digest
    public var datanets: [Digest]
    public var name: String
    public var pricePerToken: UInt64
    public var registeredHeight: UInt64

    public init(owner: Address, baseModelHash: Digest, datanets: [Digest], name: String,
                pricePerToken: UInt64, registeredHeight: UInt64) {
        self.owner = owner
        self.baseModelHash = baseModelHash
        self.datanets = datanets
        self.name = name
        self.pricePerToken = pricePerToken
        self.registeredHeight = registeredHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(owner)
        writer.write(baseModelHash)
        writer.write(array: datanets, max: TransactionBody.lineageMaxDatanets)
        writer.write(string: name, max: TransactionBody.nameMaxBytes)
        writer.write(pricePerToken)
        writer.write(registeredHeight)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        owner = try reader.read()
        baseModelHash = try reader.read()
        datanets = try reader.readArray(max: TransactionBody.lineageMaxDatanets, field: "datanet lineage")
        name = try reader.readString(max: TransactionBody.nameMaxBytes, field: "adapter name")
        pricePerToken = try reader.readUInt64()
        registeredHeight = try reader.readUInt64()
    }
}

/// A validator's bonded stake. Voting power is the stake in whole OPEN, or zero while jailed
/// (a validator caught double-signing is jailed: it keeps its remaining stake, which it may
/// unstake, but no longer votes).
public struct ValidatorRecord: Hashable, Sendable, CanonicalCodable {
    public var stake: UInt64
    public var jailed: Bool

    public init(stake: UInt64, jailed: Bool = false) {
        self.stake = stake
        self.jailed = jailed
    }

    public var power: UInt64 { jailed ? 0 : stake / OPEN.atomicUnitsPerOPEN }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(stake)
        writer.write(jailed)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        stake = try reader.readUInt64()
        jailed = try reader.readBool()
    }
}

/// Stake on its way back to the balance. Each entry unlocks `evidenceMaxAgeHeights` + 2 after
/// it was unstaked (it votes until the set changes, two heights on), so misbehaviour from while
/// it was staked can still be punished; until then it is slashed like stake.
public struct Unbonding: Hashable, Sendable, CanonicalCodable {
    public struct Entry: Hashable, Sendable, CanonicalCodable {
        public var amount: UInt64
        public var unstakedHeight: UInt64
        public var releaseHeight: UInt64

        public init(amount: UInt64, unstakedHeight: UInt64, releaseHeight: UInt64) {
            self.amount = amount
            self.unstakedHeight = unstakedHeight
            self.releaseHeight = releaseHeight
        }

        public func encode(to writer: inout CanonicalWriter) {
            writer.write(amount)
            writer.write(unstakedHeight)
            writer.write(releaseHeight)
        }

        public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
            amount = try reader.readUInt64()
            unstakedHeight = try reader.readUInt64()
            releaseHeight = try reader.readUInt64()
        }
    }

    /// At most this many unstakes may be waiting at once per account.
    public static let entriesMax = 16

    /// In the order they were unstaked.
    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public var total: UInt64 { entries.reduce(0) { $0 + $1.amount } }

    /// What has unlocked by `height`: it returns to the balance with the owner's next
    /// transaction executed at or after that height.
    public func released(atHeight height: UInt64) -> UInt64 {
        entries.reduce(0) { $0 + ($1.releaseHeight <= height ? $1.amount : 0) }
    }

    public func encode(to writer: inout CanonicalWriter) { writer.write(array: entries, max: Self.entriesMax) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        entries = try reader.readArray(max: Self.entriesMax, field: "unbonding entries")
    }
}

/// The punishment recorded for one validator's double-signing at one height: it can only
/// happen once.
public struct SlashRecord: Hashable, Sendable, CanonicalCodable {
    public var amount: UInt64
    public var reportedHeight: UInt64

    public init(amount: UInt64, reportedHeight: UInt64) {
        self.amount = amount
        self.reportedHeight = reportedHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(amount)
        writer.write(reportedHeight)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        amount = try reader.readUInt64()
        reportedHeight = try reader.readUInt64()
    }
}

/// Chain-wide parameters fixed at genesis.
public struct ChainParameters: Hashable, Sendable, CanonicalCodable {
    /// The smallest fee a transaction may pay, in atomic units.
    public var minFee: UInt64
    /// The smallest stake a validator may hold, in atomic units.
    public var minStake: UInt64
    /// The part of a double-signing validator's stake that is burned, in basis points.
    public var slashFractionBasisPoints: UInt64
    /// How many heights back double-signing evidence is still accepted; unstaked tokens stay
    /// locked (and slashable) for as long.
    public var evidenceMaxAgeHeights: UInt64
    /// How settled payments are shared out.
    public var royalties: RoyaltyRules

    public init(minFee: UInt64, minStake: UInt64, slashFractionBasisPoints: UInt64 = 500, evidenceMaxAgeHeights: UInt64 = 100_000,
                royalties: RoyaltyRules = .standard) {
        self.minFee = minFee
        self.minStake = minStake
        self.slashFractionBasisPoints = slashFractionBasisPoints
        self.evidenceMaxAgeHeights = evidenceMaxAgeHeights
        self.royalties = royalties
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(minFee)
        writer.write(minStake)
        writer.write(slashFractionBasisPoints)
        writer.write(evidenceMaxAgeHeights)
        writer.write(royalties)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        minFee = try reader.readUInt64()
        minStake = try reader.readUInt64()
        slashFractionBasisPoints = try reader.readUInt64()
        evidenceMaxAgeHeights = try reader.readUInt64()
        royalties = try reader.read()
        guard slashFractionBasisPoints <= 10_000 else { throw .invalidValue("slash fraction above 10000 basis points") }
    }
}

/// The total number of atomic units in existence: balances plus stakes.
public struct Supply: Hashable, Sendable, CanonicalCodable {
    public var total: UInt64

    public init(total: UInt64) { self.total = total }

    public func encode(to writer: inout CanonicalWriter) { writer.write(total) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { total = try reader.readUInt64() }
}
