import Crypto

/// The validators of a height with their voting power, in ascending address order.
///
/// Stake changes take effect two heights later: the set that certifies block H is the one
/// the state held after block H-2 (the genesis set for heights 1 and 2), so every node knows
/// who votes on a height before that height starts.
public struct ValidatorSet: Hashable, Sendable, CanonicalCodable {
    /// Heights between a block that changes stakes and the first height whose set shows it:
    /// `ChainStore` records the set of H + 2 after block H.
    public static let changeDelayHeights: UInt64 = 2

    public struct Member: Hashable, Sendable {
        public let address: Address
        public let power: UInt64

        public init(address: Address, power: UInt64) {
            self.address = address
            self.power = power
        }
    }

    public let members: [Member]
    public let totalPower: UInt64

    /// Members with zero power are left out; addresses must be distinct.
    public init(_ members: [Member]) {
        self.members = members.filter { $0.power > 0 }.sorted { $0.address < $1.address }
        precondition(Set(self.members.map(\.address)).count == self.members.count, "validator listed twice")
        totalPower = self.members.reduce(0) { $0 + $1.power }
    }

    public static let maxMembers = 1_000

    /// The `maxMembers` members with the most power (ties: lower address first).
    public init(largest candidates: [Member]) {
        let ranked = candidates.filter { $0.power > 0 }.sorted { ($0.power, $1.address) > ($1.power, $0.address) }
        self.init(Array(ranked.prefix(Self.maxMembers)))
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(UInt32(members.count))
        for member in members {
            writer.write(member.address)
            writer.write(member.power)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        let count = Int(try reader.readUInt32())
        guard count <= Self.maxMembers else { throw .oversize(field: "validator set", length: count, max: Self.maxMembers) }
        var members: [Member] = []
        for _ in 0..<count {
            let address: Address = try reader.read()
            let power = try reader.readUInt64()
            guard power > 0, members.last.map({ $0.address < address }) ?? true else {
                throw .nonCanonical("validator set must list positive powers in ascending address order")
            }
            members.append(Member(address: address, power: power))
        }
        self.init(members)
    }

    public func power(of address: Address) -> UInt64 {
        members.first { $0.address == address }?.power ?? 0
    }

    /// Whether `power` is more than two thirds of the total.
    public func isQuorum(_ power: UInt64) -> Bool {
        power.multipliedFullWidth(by: 3) > totalPower.multipliedFullWidth(by: 2)
    }

    /// Checks that `certificate` finalises `header`: distinct members of this set, in ascending
    /// order, whose precommit signatures verify and whose power is more than 2/3 of the total.
    /// `signaturesChecked`: the caller verified every signature already (`CommitCertificate.hasValidSignatures`).
    public func verify(_ certificate: CommitCertificate, for header: BlockHeader, signaturesChecked: Bool = false) throws(CertificateError) {
        let payload = certificate.vote(for: header).canonicalBytes
        var signedPower: UInt64 = 0
        var previous: Address?
        for entry in certificate.signatures {
            if let previous, !(previous < entry.validator) { throw .notAscending }
            previous = entry.validator
            let power = power(of: entry.validator)
            guard power > 0 else { throw .notAValidator(entry.validator) }
            guard signaturesChecked || entry.validator.isValidSignature(entry.signature, for: payload, domain: .vote, chainID: header.chainID) else {
                throw .invalidSignature(entry.validator)
            }
            signedPower += power
        }
        guard isQuorum(signedPower) else { throw .insufficientPower(signed: signedPower, total: totalPower) }
    }
}

/// Why a commit certificate does not finalise a block.
public enum CertificateError: Error, Hashable, Sendable, CustomStringConvertible {
    case notAscending
    case notAValidator(Address)
    case invalidSignature(Address)
    case insufficientPower(signed: UInt64, total: UInt64)

    public var description: String {
        switch self {
        case .notAscending: "certificate signatures are not in ascending validator order"
        case let .notAValidator(address): "certificate signer \(address) is not a validator"
        case let .invalidSignature(address): "certificate signature of \(address) does not verify"
        case let .insufficientPower(signed, total): "certificate carries power \(signed) of \(total), not more than 2/3"
        }
    }
}

extension CommitCertificate {
    /// A certificate made of `keys`' precommits for `header` in `round`.
    public static func signing(_ header: BlockHeader, round: UInt32, keys: [SigningKey]) -> CommitCertificate {
        let payload = Vote(kind: .precommit, height: header.height, round: round, blockHash: header.hash).canonicalBytes
        let signatures = keys
            .sorted { $0.publicKey < $1.publicKey }
            .map { CommitSignature(validator: $0.publicKey, signature: $0.sign(payload, domain: .vote, chainID: header.chainID)) }
        return CommitCertificate(round: round, signatures: signatures)
    }
}
