import Crypto

/// What a block commits to. The block hash is the BLAKE2b-256 of the header's canonical bytes.
public struct BlockHeader: Hashable, Sendable, CanonicalCodable {
    public var chainID: String
    public var height: UInt64
    /// Proposer's clock, unix milliseconds; strictly increasing from block to block.
    public var timeMs: UInt64
    /// The previous block's hash; for height 1, the genesis hash.
    public var previousHash: Digest
    /// Merkle root of the transaction hashes (`MerkleRoot.of`).
    public var transactionsRoot: Digest
    /// State tree root after executing this block.
    public var appHash: Digest
    public var proposer: Address

    public init(chainID: String, height: UInt64, timeMs: UInt64, previousHash: Digest,
                transactionsRoot: Digest, appHash: Digest, proposer: Address) {
        self.chainID = chainID
        self.height = height
        self.timeMs = timeMs
        self.previousHash = previousHash
        self.transactionsRoot = transactionsRoot
        self.appHash = appHash
        self.proposer = proposer
    }

    public var hash: Digest { Digest.blake2b(canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(string: chainID, max: SigningDomain.chainIDMaxBytes)
        writer.write(height)
        writer.write(timeMs)
        writer.write(previousHash)
        writer.write(transactionsRoot)
        writer.write(appHash)
        writer.write(proposer)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(max: SigningDomain.chainIDMaxBytes, field: "chain id")
        height = try reader.readUInt64()
        timeMs = try reader.readUInt64()
        previousHash = try reader.read()
        transactionsRoot = try reader.read()
        appHash = try reader.read()
        proposer = try reader.read()
    }
}

/// A proposed block: header and transactions, not yet finalised. Its hash is the header's.
public struct BlockCandidate: Hashable, Sendable, CanonicalCodable {
    public var header: BlockHeader
    public var transactions: [SignedTransaction]

    public init(header: BlockHeader, transactions: [SignedTransaction]) {
        self.header = header
        self.transactions = transactions
    }

    public var hash: Digest { header.hash }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(header)
        writer.write(array: transactions, max: Block.maxTransactions)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        header = try reader.read()
        transactions = try reader.readArray(max: Block.maxTransactions, field: "block transactions")
    }
}

/// A committed block: header, transactions, and the certificate that finalised it.
public struct Block: Hashable, Sendable, CanonicalCodable {
    public static let maxTransactions = 10_000
    public static let maxBytes = 16 << 20
    /// The transactions' bytes a valid block holds at most: half of `maxBytes`, the rest left
    /// for the header and the certificate, so every valid block can be stored, served and read
    /// back (`maxBytes` bounds decoding) and its candidate fits a proposal and a WAL record.
    public static let transactionBytesMax = maxBytes / 2

    public var header: BlockHeader
    public var transactions: [SignedTransaction]
    public var certificate: CommitCertificate

    public init(header: BlockHeader, transactions: [SignedTransaction], certificate: CommitCertificate) {
        self.header = header
        self.transactions = transactions
        self.certificate = certificate
    }

    public init(_ candidate: BlockCandidate, certificate: CommitCertificate) {
        self.init(header: candidate.header, transactions: candidate.transactions, certificate: certificate)
    }

    public var hash: Digest { header.hash }
    public var candidate: BlockCandidate { BlockCandidate(header: header, transactions: transactions) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(header)
        writer.write(array: transactions, max: Self.maxTransactions)
        writer.write(certificate)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        header = try reader.read()
        transactions = try reader.readArray(max: Self.maxTransactions, field: "block transactions")
        certificate = try reader.read()
    }
}

/// One validator's precommit signature inside a certificate.
public struct CommitSignature: Hashable, Sendable, CanonicalCodable {
    public var validator: Address
    public var signature: Signature

    public init(validator: Address, signature: Signature) {
        self.validator = validator
        self.signature = signature
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(validator)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        validator = try reader.read()
        signature = try reader.read()
    }
}

/// Proof that a block is final: precommits for it from more than 2/3 of the voting power, in
/// ascending validator order, each signed in the vote domain.
public struct CommitCertificate: Hashable, Sendable, CanonicalCodable {
    public static let maxSignatures = 1_000

    public var round: UInt32
    public var signatures: [CommitSignature]

    public init(round: UInt32, signatures: [CommitSignature]) {
        self.round = round
        self.signatures = signatures
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(round)
        writer.write(array: signatures, max: Self.maxSignatures)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        round = try reader.readUInt32()
        signatures = try reader.readArray(max: Self.maxSignatures, field: "certificate signatures")
        for index in signatures.indices.dropFirst() where !(signatures[index - 1].validator < signatures[index].validator) {
            throw .nonCanonical("certificate signatures not in ascending validator order")
        }
    }

    /// The precommit each signature must cover.
    public func vote(for header: BlockHeader) -> Vote {
        Vote(kind: .precommit, height: header.height, round: round, blockHash: header.hash)
    }

    /// Whether every signature verifies as its signer's precommit for `header` — the costly part
    /// of `ValidatorSet.verify`, which needs no validator set and so can run ahead of execution.
    public func hasValidSignatures(for header: BlockHeader) -> Bool {
        let payload = vote(for: header).canonicalBytes
        return signatures.allSatisfy { $0.validator.isValidSignature($0.signature, for: payload, domain: .vote, chainID: header.chainID) }
    }
}
