import Crypto
import Foundation

/// The chain's starting point, read from `genesis.json`:
///
/// ```json
/// {"chain_id": "devnet", "genesis_time": 1795000000,
///  "parameters": {"min_fee": "1000", "min_stake": "1000000000000",
///                 "slash_fraction_basis_points": 500, "evidence_max_age_heights": 100000,
///                 "royalties": {"adapter_owner_basis_points": 1000, "protocol_basis_points": 500,
///                               "contributors_basis_points": 2000, "escrow_heights": 14400}},
///  "validators": [{"address": "<64 hex>", "power": 10000}],
///  "allocations": [{"address": "<64 hex>", "amount": "1000000000000000"}],
///  "vesting": [{"address": "<64 hex>", "amount": "…", "start_time": 1795000000,
///               "cliff_seconds": 31536000, "duration_seconds": 94608000}]}
/// ```
/// Amounts are decimal strings of atomic units. A validator's stake is `power` whole OPEN.
/// Vesting amounts are credited to the account and unlock on their schedule.
public struct Genesis: Hashable, Sendable, CanonicalCodable {
    public struct Validator: Hashable, Sendable, CanonicalCodable {
        public var address: Address
        public var power: UInt64

        public init(address: Address, power: UInt64) {
            self.address = address
            self.power = power
        }

        public func encode(to writer: inout CanonicalWriter) { writer.write(address); writer.write(power) }
        public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
            address = try reader.read()
            power = try reader.readUInt64()
        }
    }

    public struct Allocation: Hashable, Sendable, CanonicalCodable {
        public var address: Address
        public var amount: UInt64

        public init(address: Address, amount: UInt64) {
            self.address = address
            self.amount = amount
        }

        public func encode(to writer: inout CanonicalWriter) { writer.write(address); writer.write(amount) }
        public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
            address = try reader.read()
            amount = try reader.readUInt64()
        }
    }

    public struct Vesting: Hashable, Sendable, CanonicalCodable {
        public var address: Address
        public var schedule: VestingSchedule

        public init(address: Address, schedule: VestingSchedule) {
            self.address = address
            self.schedule = schedule
        }

        public func encode(to writer: inout CanonicalWriter) { writer.write(address); writer.write(schedule) }
        public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
            address = try reader.read()
            schedule = try reader.read()
        }
    }

    public static let maxEntries = 100_000
    /// 9999-12-31T23:59:59Z: block times are unix milliseconds in 64 bits, far beyond this.
    public static let genesisTimeMax: UInt64 = 253_402_300_799

    public var chainID: String
    /// Unix seconds; every block's time is later.
    public var genesisTime: UInt64
    public var parameters: ChainParameters
    public var validators: [Validator]
    public var allocations: [Allocation]
    public var vesting: [Vesting]

    public init(chainID: String, genesisTime: UInt64, parameters: ChainParameters, validators: [Validator],
                allocations: [Allocation], vesting: [Vesting]) {
        self.chainID = chainID
        self.genesisTime = genesisTime
        self.parameters = parameters
        self.validators = validators
        self.allocations = allocations
        self.vesting = vesting
    }

    /// The hash block 1 names as its predecessor; it binds the chain to this genesis.
    public var hash: Digest { Digest.blake2b(canonicalBytes) }

    /// Checks the rules a genesis must satisfy and returns the total supply.
    public func validated() throws(GenesisError) -> UInt64 {
        guard Genesis.isValidChainID(chainID) else {
            throw GenesisError("chain_id must be 1 to 64 characters of a-z, 0-9, '-', '_' or '.', got '\(chainID)'")
        }
        guard !validators.isEmpty else { throw GenesisError("at least one validator is required") }
        guard validators.count <= ValidatorSet.maxMembers else {
            throw GenesisError("at most \(ValidatorSet.maxMembers) genesis validators, got \(validators.count)")
        }
        guard genesisTime <= Self.genesisTimeMax else { throw GenesisError("genesis_time \(genesisTime) is beyond the year 9999") }
        guard parameters.slashFractionBasisPoints <= 10_000 else {
            throw GenesisError("slash_fraction_basis_points must be at most 10000")
        }
        if let defect = parameters.royalties.defect { throw GenesisError(defect) }
        var seen = Set<Address>()
        var supply: UInt64 = 0
        func add(_ amount: UInt64) throws(GenesisError) {
            let (sum, overflow) = supply.addingReportingOverflow(amount)
            guard !overflow else { throw GenesisError("total supply overflows 64 bits") }
            supply = sum
        }
        for validator in validators {
            guard seen.insert(validator.address).inserted else {
                throw GenesisError("validator \(validator.address) is listed twice")
            }
            let (stake, overflow) = validator.power.multipliedReportingOverflow(by: OPEN.atomicUnitsPerOPEN)
            guard validator.power > 0, !overflow, stake >= parameters.minStake else {
                throw GenesisError("validator \(validator.address) power \(validator.power) is below min_stake or too large")
            }
            try add(stake)
        }
        seen = []
        for allocation in allocations {
            guard seen.insert(allocation.address).inserted else {
                throw GenesisError("allocation for \(allocation.address) is listed twice")
            }
            try add(allocation.amount)
        }
        seen = []
        for grant in vesting {
            guard seen.insert(grant.address).inserted else {
                throw GenesisError("vesting for \(grant.address) is listed twice")
            }
            guard grant.schedule.durationSeconds > 0, grant.schedule.cliffSeconds <= grant.schedule.durationSeconds else {
                throw GenesisError("vesting for \(grant.address) needs duration_seconds > 0 and cliff_seconds <= duration_seconds")
            }
            let (_, overflow) = grant.schedule.startTime.addingReportingOverflow(grant.schedule.durationSeconds)
            guard !overflow else { throw GenesisError("vesting for \(grant.address) ends beyond 64-bit time") }
            try add(grant.schedule.amount)
        }
        return supply
    }

    static func isValidChainID(_ text: String) -> Bool {
        (1...SigningDomain.chainIDMaxBytes).contains(text.utf8.count)
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(string: chainID, max: SigningDomain.chainIDMaxBytes)
        writer.write(genesisTime)
        writer.write(parameters)
        writer.write(array: validators, max: Self.maxEntries)
        writer.write(array: allocations, max: Self.maxEntries)
        writer.write(array: vesting, max: Self.maxEntries)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(max: SigningDomain.chainIDMaxBytes, field: "chain id")
        genesisTime = try reader.readUInt64()
        parameters = try reader.read()
        validators = try reader.readArray(max: Self.maxEntries, field: "validators")
        allocations = try reader.readArray(max: Self.maxEntries, field: "allocations")
        vesting = try reader.readArray(max: Self.maxEntries, field: "vesting")
    }
}

/// Why a genesis document was refused.
public struct GenesisError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Genesis {
    /// The state the chain starts from: accounts, vesting schedules, validator stakes,
    /// parameters and the supply.
    public func initialState() throws(GenesisError) -> [StateKey: [UInt8]?] {
        let supply = try validated()
        var balances: [Address: UInt64] = [:]
        for allocation in allocations { balances[allocation.address, default: 0] += allocation.amount }
        for grant in vesting { balances[grant.address, default: 0] += grant.schedule.amount }
        var state: [StateKey: [UInt8]?] = [:]
        for (address, balance) in balances {
            state[.account(address)] = Account(balance: balance).canonicalBytes
        }
        for grant in vesting {
            state[.vesting(grant.address)] = grant.schedule.canonicalBytes
        }
        for validator in validators {
            state[.validator(validator.address)] = ValidatorRecord(stake: validator.power * OPEN.atomicUnitsPerOPEN).canonicalBytes
        }
        state[.parameters] = parameters.canonicalBytes
        state[.supply] = Supply(total: supply).canonicalBytes
        return state
    }
}
