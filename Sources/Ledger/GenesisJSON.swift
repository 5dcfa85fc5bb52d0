import Crypto
import Foundation

extension Genesis {
    /// Parses and validates a `genesis.json` document.
    public init(json data: Data) throws(GenesisError) {
        let document: GenesisDocument
        do {
            document = try JSONDecoder().decode(GenesisDocument.self, from: data)
        } catch let error as DecodingError {
            throw GenesisError("genesis.json: \(Self.describe(error))")
        } catch {
            throw GenesisError("genesis.json: \(error)")
        }
        func address(_ hex: String, _ field: String) throws(GenesisError) -> Address {
            guard let address = Address(hex: hex) else { throw GenesisError("\(field): '\(hex)' is not 64 hex characters") }
            return address
        }
        func amount(_ text: String, _ field: String) throws(GenesisError) -> UInt64 {
            guard let value = AtomicAmount.parse(text) else {
                throw GenesisError("\(field): '\(text)' is not a decimal string of atomic units")
            }
            return value
        }
        var validators: [Validator] = []
        for entry in document.validators {
            validators.append(Validator(address: try address(entry.address, "validators.address"), power: entry.power))
        }
        var allocations: [Allocation] = []
        for entry in document.allocations ?? [] {
            allocations.append(Allocation(
                address: try address(entry.address, "allocations.address"),
                amount: try amount(entry.amount, "allocations.amount")))
        }
        var vesting: [Vesting] = []
        for entry in document.vesting ?? [] {
            vesting.append(Vesting(
                address: try address(entry.address, "vesting.address"),
                schedule: VestingSchedule(
                    amount: try amount(entry.amount, "vesting.amount"), startTime: entry.start_time,
                    cliffSeconds: entry.cliff_seconds, durationSeconds: entry.duration_seconds)))
        }
        self.init(
            chainID: document.chain_id, genesisTime: document.genesis_time,
            parameters: ChainParameters(
                minFee: try amount(document.parameters.min_fee, "parameters.min_fee"),
                minStake: try amount(document.parameters.min_stake, "parameters.min_stake"),
                slashFractionBasisPoints: document.parameters.slash_fraction_basis_points ?? 500,
                evidenceMaxAgeHeights: document.parameters.evidence_max_age_heights ?? 100_000,
                royalties: document.parameters.royalties.map {
                    RoyaltyRules(adapterOwnerBasisPoints: $0.adapter_owner_basis_points, protocolBasisPoints: $0.protocol_basis_points,
                                 contributorsBasisPoints: $0.contributors_basis_points, escrowHeights: $0.escrow_heights)
                } ?? .standard),
            validators: validators, allocations: allocations, vesting: vesting)
        _ = try validated()
    }

    /// The `genesis.json` document for this genesis, keys sorted, pretty-printed.
    public var json: Data {
        let document = GenesisDocument(
            chain_id: chainID, genesis_time: genesisTime,
            parameters: .init(
                min_fee: String(parameters.minFee), min_stake: String(parameters.minStake),
                slash_fraction_basis_points: parameters.slashFractionBasisPoints,
                evidence_max_age_heights: parameters.evidenceMaxAgeHeights,
                royalties: .init(
                    adapter_owner_basis_points: parameters.royalties.adapterOwnerBasisPoints,
                    protocol_basis_points: parameters.royalties.protocolBasisPoints,
                    contributors_basis_points: parameters.royalties.contributorsBasisPoints,
                    escrow_heights: parameters.royalties.escrowHeights)),
            validators: validators.map { .init(address: $0.address.hex, power: $0.power) },
            allocations: allocations.map { .init(address: $0.address.hex, amount: String($0.amount)) },
            vesting: vesting.map {
                .init(address: $0.address.hex, amount: String($0.schedule.amount), start_time: $0.schedule.startTime,
                      cliff_seconds: $0.schedule.cliffSeconds, duration_seconds: $0.schedule.durationSeconds)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(document)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, context):
            "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        @unknown default:
            "\(error)"
        }
    }
}

/// Decimal strings of atomic units: digits only, no sign, no leading zeros except "0".
public enum AtomicAmount {
    public static func parse(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt64(text)
    }
}

private struct GenesisDocument: Codable {
    struct Parameters: Codable {
        var min_fee: String
        var min_stake: String
        var slash_fraction_basis_points: UInt64?
        var evidence_max_age_heights: UInt64?
        var royalties: Royalties?
    }

    struct Royalties: Codable {
        var adapter_owner_basis_points: UInt64
        var protocol_basis_points: UInt64
        var contributors_basis_points: UInt64
        var escrow_heights: UInt64
    }

    struct Validator: Codable {
        var address: String
        var power: UInt64
    }

    struct Allocation: Codable {
        var address: String
        var amount: String
    }

    struct Vesting: Codable {
        var address: String
        var amount: String
        var start_time: UInt64
        var cliff_seconds: UInt64
        var duration_seconds: UInt64
    }

    var chain_id: String
    var genesis_time: UInt64
    var parameters: Parameters
    var validators: [Validator]
    var allocations: [Allocation]?
    var vesting: [Vesting]?
}
