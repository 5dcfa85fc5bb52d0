import Crypto

/// How a settled payment is shared (genesis parameters, in basis points of the charge):
/// the adapter's owner, the protocol (the validators, by power) and the contributors of the
/// adapter's datanets (held in escrow until the provider's attribution releases it). The
/// provider keeps the rest, and every rounding remainder.
///
/// A share with nobody to receive it stays with the provider: the owner's and the
/// contributors' shares of a base-model answer (no adapter), the contributors' share of an
/// adapter registered without datanets.
public struct RoyaltyRules: Hashable, Sendable, CanonicalCodable {
    public var adapterOwnerBasisPoints: UInt64
    public var protocolBasisPoints: UInt64
    public var contributorsBasisPoints: UInt64
    /// Blocks an escrow waits for its attribution; then it is paid to the validators by power.
    public var escrowHeights: UInt64

    public static let basisPointsTotal: UInt64 = 10_000
    public static let standard = RoyaltyRules(adapterOwnerBasisPoints: 1_000, protocolBasisPoints: 500, contributorsBasisPoints: 2_000, escrowHeights: 14_400)

    public init(adapterOwnerBasisPoints: UInt64, protocolBasisPoints: UInt64, contributorsBasisPoints: UInt64, escrowHeights: UInt64) {
        self.adapterOwnerBasisPoints = adapterOwnerBasisPoints
        self.protocolBasisPoints = protocolBasisPoints
        self.contributorsBasisPoints = contributorsBasisPoints
        self.escrowHeights = escrowHeights
    }

    /// Nil when the rules are usable, else why not.
    public var defect: String? {
        let shares = [adapterOwnerBasisPoints, protocolBasisPoints, contributorsBasisPoints]
        guard shares.allSatisfy({ $0 <= Self.basisPointsTotal }), shares.reduce(0, +) <= Self.basisPointsTotal else {
            return "royalty shares must add up to at most \(Self.basisPointsTotal) basis points"
        }
        guard escrowHeights > 0 else { return "royalties.escrow_heights must be at least 1" }
        return nil
    }

    /// The parts of `charged`: each share is `⌊charged · basis points / 10000⌋`.
    public func split(_ charged: UInt64, hasAdapter: Bool, hasDatanets: Bool) -> RoyaltySplit {
        func part(_ basisPoints: UInt64) -> UInt64 { charged.portion(basisPoints, of: Self.basisPointsTotal) }
        let owner = hasAdapter ? part(adapterOwnerBasisPoints) : 0
        let contributors = hasAdapter && hasDatanets ? part(contributorsBasisPoints) : 0
        let network = part(protocolBasisPoints)
        let split = RoyaltySplit(provider: charged - owner - contributors - network, adapterOwner: owner, protocol: network, contributors: contributors)
        assert(split.provider + split.adapterOwner + split.protocol + split.contributors == charged)
        return split
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(adapterOwnerBasisPoints)
        writer.write(protocolBasisPoints)
        writer.write(contributorsBasisPoints)
        writer.write(escrowHeights)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        adapterOwnerBasisPoints = try reader.readUInt64()
        protocolBasisPoints = try reader.readUInt64()
        contributorsBasisPoints = try reader.readUInt64()
        escrowHeights = try reader.readUInt64()
        if let defect { throw .invalidValue(defect) }
    }
}

/// One settled charge, shared out. The parts add up to the charge.
public struct RoyaltySplit: Hashable, Sendable {
    public var provider: UInt64
    public var adapterOwner: UInt64
    public var `protocol`: UInt64
    public var contributors: UInt64

    public init(provider: UInt64, adapterOwner: UInt64, protocol: UInt64, contributors: UInt64) {
        self.provider = provider
        self.adapterOwner = adapterOwner
        self.protocol = `protocol`
        self.contributors = contributors
    }
}

/// The contributors' share of one settlement, waiting for the provider's attribution
/// (`StateKey.royaltyEscrow`, keyed by the settlement transaction's hash).
public struct RoyaltyEscrow: Hashable, Sendable, CanonicalCodable {
    /// The payee who settled; only it may release the escrow.
    public var provider: Address
    public var adapter: Digest
    public var amount: UInt64
    /// At this height the escrow is paid to the validators instead.
    public var expiryHeight: UInt64

    /// Escrows expired at the start of one block, at most; the rest wait for the next.
    public static let expiriesPerBlockMax = 1_024

    public init(provider: Address, adapter: Digest, amount: UInt64, expiryHeight: UInt64) {
        self.provider = provider
        self.adapter = adapter
        self.amount = amount
        self.expiryHeight = expiryHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(provider)
        writer.write(adapter)
        writer.write(amount)
        writer.write(expiryHeight)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        provider = try reader.read()
        adapter = try reader.read()
        amount = try reader.readUInt64()
        expiryHeight = try reader.readUInt64()
    }
}

/// A provider's attribution of one settled answer (the `attribution` transaction): the
/// settlement, the hash of its signed attribution proof, and the contributors' weights, each
/// named by one document of theirs (its content hash) in the adapter's datanets. Execution
/// pays the contributor recorded on chain for that document.
///
/// Weights are in units of 2⁻⁴⁰ (the proof's weight grid) and add up to exactly one.
/// Each share gets `⌊escrow · weight / 2⁴⁰⌋`; the remainder goes to the largest weight (the
/// first listed among equals).
public struct AttributionRelease: Hashable, Sendable, CanonicalCodable {
    public struct Share: Hashable, Sendable, CanonicalCodable {
        public var document: Digest
        public var weight: UInt64

        public init(document: Digest, weight: UInt64) {
            self.document = document
            self.weight = weight
        }

        public func encode(to writer: inout CanonicalWriter) { writer.write(document); writer.write(weight) }
        public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
            document = try reader.read()
            weight = try reader.readUInt64()
        }
    }

    public static let weightBits = 40
    public static let weightTotal: UInt64 = 1 << weightBits
    /// Most shares a valid attribution names: as many as fit a signed transaction of at most
    /// `SignedTransaction.maxBytes` (40 bytes each; `RoyaltyTests` holds the largest to it), so
    /// every valid attribution can also travel as gossip.
    public static let sharesMax = 96
    /// Most shares an attribution decodes with: the limit before 2026-12-05, so blocks holding
    /// a larger one (which its sender could propose itself) still decode, and its execution is
    /// refused by `defect`.
    static let decodedSharesMax = 256

    /// The `settle_payment` transaction's hash.
    public var settlement: Digest
    /// The attribution proof's id (BLAKE2b-256 of its signed record).
    public var proof: Digest
    /// In ascending document order, no document twice.
    public var shares: [Share]

    public init(settlement: Digest, proof: Digest, shares: [Share]) {
        self.settlement = settlement
        self.proof = proof
        self.shares = shares
    }

    /// Nil when the shares are well formed, else why not.
    public var defect: String? {
        guard (1...Self.sharesMax).contains(shares.count) else { return "an attribution names 1 to \(Self.sharesMax) shares, got \(shares.count)" }
        for index in shares.indices.dropFirst() where !(shares[index - 1].document < shares[index].document) {
            return "shares must be in ascending document order without repeats"
        }
        guard shares.allSatisfy({ $0.weight > 0 }) else { return "every weight must be positive" }
        var total: UInt64 = 0
        for share in shares {
            let (sum, overflow) = total.addingReportingOverflow(share.weight)
            guard !overflow else { return "weights overflow" }
            total = sum
        }
        guard total == Self.weightTotal else { return "weights add up to \(total), not 2^\(Self.weightBits)" }
        return nil
    }

    /// What each share is paid from `amount`, in share order.
    public func payouts(of amount: UInt64) -> [UInt64] {
        precondition(defect == nil, "payouts of a malformed attribution")
        var paid = shares.map { amount.portion($0.weight, of: Self.weightTotal) }
        let largest = shares.indices.max { shares[$0].weight < shares[$1].weight || (shares[$0].weight == shares[$1].weight && $0 > $1) }!
        paid[largest] += amount - paid.reduce(0, +)
        assert(paid.reduce(0, +) == amount)
        return paid
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(settlement)
        writer.write(proof)
        writer.write(array: shares, max: Self.decodedSharesMax)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        settlement = try reader.read()
        proof = try reader.read()
        shares = try reader.readArray(max: Self.decodedSharesMax, field: "attribution shares")
    }
}

extension UInt64 {
    /// `⌊self · numerator / denominator⌋` in 128-bit arithmetic, for `numerator <= denominator`.
    func portion(_ numerator: UInt64, of denominator: UInt64) -> UInt64 {
        precondition(denominator > 0 && numerator <= denominator, "a portion above the whole")
        return denominator.dividingFullWidth(multipliedFullWidth(by: numerator)).quotient
    }
}

extension ValidatorSet {
    /// `amount` shared by power: each member `⌊amount · power / total⌋`, the remainder (all of
    /// it when no member has power) to `proposer`.
    public func payouts(of amount: UInt64, remainderTo proposer: Address) -> [(Address, UInt64)] {
        var paid: [(Address, UInt64)] = totalPower == 0 ? [] : members.map { ($0.address, amount.portion($0.power, of: totalPower)) }
        paid.append((proposer, amount - paid.reduce(0) { $0 + $1.1 }))
        return paid
    }
}
