import Crypto

/// A consensus vote. Precommits for a block, signed by more than 2/3 of the voting power,
/// form its commit certificate.
public struct Vote: Hashable, Sendable, CanonicalCodable {
    public enum Kind: UInt8, Sendable {
        case prevote = 1, precommit = 2
    }

    public var kind: Kind
    public var height: UInt64
    public var round: UInt32
    /// The block voted for; nil votes for no block in this round.
    public var blockHash: Digest?

    public init(kind: Kind, height: UInt64, round: UInt32, blockHash: Digest?) {
        self.kind = kind
        self.height = height
        self.round = round
        self.blockHash = blockHash
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(kind.rawValue)
        writer.write(height)
        writer.write(round)
        writer.write(optional: blockHash)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        let tag = try reader.readUInt8()
        guard let kind = Kind(rawValue: tag) else { throw .unknownTag(type: "vote kind", tag: tag) }
        self.kind = kind
        height = try reader.readUInt64()
        round = try reader.readUInt32()
        blockHash = try reader.readOptional()
    }
}

/// A vote with its validator's signature (vote signing domain).
public struct SignedVote: Hashable, Sendable, CanonicalCodable {
    public let vote: Vote
    public let validator: Address
    public let signature: Signature

    public init(vote: Vote, validator: Address, signature: Signature) {
        self.vote = vote
        self.validator = validator
        self.signature = signature
    }

    public init(_ vote: Vote, signedBy key: SigningKey, chainID: String) {
        self.init(vote: vote, validator: key.publicKey, signature: key.sign(vote.canonicalBytes, domain: .vote, chainID: chainID))
    }

    public func hasValidSignature(chainID: String) -> Bool {
        validator.isValidSignature(signature, for: vote.canonicalBytes, domain: .vote, chainID: chainID)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(vote)
        writer.write(validator)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        vote = try reader.read()
        validator = try reader.read()
        signature = try reader.read()
    }
}

/// Proof that a validator signed two different votes of one kind at one height and round.
/// The votes are ordered (the nil vote, then ascending block hash) so each misbehaviour has
/// exactly one encoding.
public struct DuplicateVoteEvidence: Hashable, Sendable, CanonicalCodable {
    public let first: SignedVote
    public let second: SignedVote

    /// Orders two conflicting votes; nil unless they really conflict (same validator, kind,
    /// height and round; different block hashes).
    public init?(_ a: SignedVote, _ b: SignedVote) {
        guard a.validator == b.validator, a.vote.kind == b.vote.kind, a.vote.height == b.vote.height,
              a.vote.round == b.vote.round, a.vote.blockHash != b.vote.blockHash
        else { return nil }
        (first, second) = Self.precedes(a.vote.blockHash, b.vote.blockHash) ? (a, b) : (b, a)
    }

    public var validator: Address { first.validator }
    public var height: UInt64 { first.vote.height }

    /// Why this evidence is not well-formed, or nil: the votes must conflict, be in canonical
    /// order and both carry valid signatures for `chainID`.
    public func defect(chainID: String) -> String? {
        guard let ordered = DuplicateVoteEvidence(first, second), ordered == self else {
            return "the votes do not conflict or are not in canonical order"
        }
        guard first.hasValidSignature(chainID: chainID), second.hasValidSignature(chainID: chainID) else {
            return "a vote signature does not verify"
        }
        return nil
    }

    private static func precedes(_ a: Digest?, _ b: Digest?) -> Bool {
        switch (a, b) {
        case (nil, _): true
        case (_, nil): false
        case let (a?, b?): a < b
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(first)
        writer.write(second)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        first = try reader.read()
        second = try reader.read()
    }
}
