import Crypto
import Ledger

/// What a proposer signs: the block it proposes for a height and round, and the round in
/// which that block last gathered a polka (`validRound`), if any.
public struct Proposal: Hashable, Sendable, CanonicalCodable {
    public var height: UInt64
    public var round: UInt32
    public var validRound: UInt32?
    public var blockHash: Digest

    public init(height: UInt64, round: UInt32, validRound: UInt32?, blockHash: Digest) {
        self.height = height
        self.round = round
        self.validRound = validRound
        self.blockHash = blockHash
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(height)
        writer.write(round)
        writer.write(optional: validRound.map(RoundNumber.init))
        writer.write(blockHash)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        height = try reader.readUInt64()
        round = try reader.readUInt32()
        validRound = try reader.readOptional(RoundNumber.self)?.value
        blockHash = try reader.read()
    }
}

/// A `UInt32` round as a codable value (for optionals).
struct RoundNumber: CanonicalCodable {
    let value: UInt32
    init(_ value: UInt32) { self.value = value }
    func encode(to writer: inout CanonicalWriter) { writer.write(value) }
    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { value = try reader.readUInt32() }
}

/// A proposal with its block and the proposer's signature (proposal signing domain).
public struct SignedProposal: Hashable, Sendable, CanonicalCodable {
    public let proposal: Proposal
    public let candidate: BlockCandidate
    public let proposer: Address
    public let signature: Signature

    public init(proposal: Proposal, candidate: BlockCandidate, proposer: Address, signature: Signature) {
        self.proposal = proposal
        self.candidate = candidate
        self.proposer = proposer
        self.signature = signature
    }

    public init(_ proposal: Proposal, candidate: BlockCandidate, signedBy key: SigningKey, chainID: String) {
        self.init(proposal: proposal, candidate: candidate, proposer: key.publicKey,
                  signature: key.sign(proposal.canonicalBytes, domain: .proposal, chainID: chainID))
    }

    /// The signature verifies and the carried block is the one signed for.
    public func isAuthentic(chainID: String) -> Bool {
        candidate.hash == proposal.blockHash
            && proposer.isValidSignature(signature, for: proposal.canonicalBytes, domain: .proposal, chainID: chainID)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(proposal)
        writer.write(candidate)
        writer.write(proposer)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        proposal = try reader.read()
        candidate = try reader.read()
        proposer = try reader.read()
        signature = try reader.read()
    }
}

/// A message validators exchange during a height.
public enum ConsensusMessage: Hashable, Sendable, CanonicalCodable {
    case proposal(SignedProposal)
    case vote(SignedVote)

    public var height: UInt64 {
        switch self {
        case let .proposal(signed): signed.proposal.height
        case let .vote(signed): signed.vote.height
        }
    }

    public var round: UInt32 {
        switch self {
        case let .proposal(signed): signed.proposal.round
        case let .vote(signed): signed.vote.round
        }
    }

    /// Whether the sender's signature verifies (and a proposal carries the block it signed).
    /// Checked once per message by whoever delivers it to the engine, which trusts it.
    public func isAuthentic(chainID: String) -> Bool {
        switch self {
        case let .proposal(signed): signed.isAuthentic(chainID: chainID)
        case let .vote(signed): signed.hasValidSignature(chainID: chainID)
        }
    }

    public var sender: Address {
        switch self {
        case let .proposal(signed): signed.proposer
        case let .vote(signed): signed.validator
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case let .proposal(signed): writer.write(UInt8(1)); writer.write(signed)
        case let .vote(signed): writer.write(UInt8(2)); writer.write(signed)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1: self = .proposal(try reader.read())
        case 2: self = .vote(try reader.read())
        case let tag: throw .unknownTag(type: "consensus message", tag: tag)
        }
    }
}
