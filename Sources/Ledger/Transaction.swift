import Crypto

/// An account address: the account's Ed25519 public key.
public typealias Address = PublicKey

/// A transaction before signing: who sends it, its place in the sender's sequence, the fee it
/// pays the block proposer (atomic units), and what it does.
public struct Transaction: Hashable, Sendable, CanonicalCodable {
    public var sender: Address
    public var nonce: UInt64
    public var fee: UInt64
    public var body: TransactionBody

    public init(sender: Address, nonce: UInt64, fee: UInt64, body: TransactionBody) {
        self.sender = sender
        self.nonce = nonce
        self.fee = fee
        self.body = body
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(sender)
        writer.write(nonce)
        writer.write(fee)
        writer.write(body)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        sender = try reader.read()
        nonce = try reader.readUInt64()
        fee = try reader.readUInt64()
        body = try reader.read()
    }

    /// What the transaction takes from its sender's balance when it runs: the fee, plus the
    /// amount a transfer sends or a stake locks (saturating; nothing else debits the sender).
    public var debit: UInt64 {
        switch body {
        case let .transfer(_, amount), let .stake(amount): fee.saturatingAdding(amount)
        default: fee
        }
    }

    /// Signs for `chainID` in the transaction signing domain.
    public func signed(by key: SigningKey, chainID: String) -> SignedTransaction {
        precondition(key.publicKey == sender, "signing key is not the sender's")
        return SignedTransaction(transaction: self, signature: key.sign(canonicalBytes, domain: .transaction, chainID: chainID))
    }
}

/// A transaction with the sender's signature. Its hash (the transaction id) is the BLAKE2b-256
/// of its canonical bytes, signature included.
public struct SignedTransaction: Hashable, Sendable, CanonicalCodable {
    /// The largest encoded transaction a node accepts.
    public static let maxBytes = 4096

    public let transaction: Transaction
    public let signature: Signature
    public let hash: Digest
    /// The length of `canonicalBytes`, known from hashing them (limits count it often).
    public let byteCount: Int

    public init(transaction: Transaction, signature: Signature) {
        self.transaction = transaction
        self.signature = signature
        var writer = CanonicalWriter()
        writer.write(transaction)
        writer.write(signature)
        self.hash = Digest.blake2b(writer.bytes)
        self.byteCount = writer.bytes.count
    }

    /// Whether the signature is the sender's over this transaction on `chainID`.
    public func hasValidSignature(chainID: String) -> Bool {
        transaction.sender.isValidSignature(signature, for: transaction.canonicalBytes, domain: .transaction, chainID: chainID)
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(transaction)
        writer.write(signature)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        self.init(transaction: try reader.read(), signature: try reader.read())
    }

    public static func == (a: SignedTransaction, b: SignedTransaction) -> Bool { a.hash == b.hash }
    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}

/// What a transaction does.
public enum TransactionBody: Hashable, Sendable, CanonicalCodable {
    /// Moves `amount` atomic units to `to`.
    case transfer(to: Address, amount: UInt64)
    /// Creates a datanet (a curated collection of training data) owned by the sender. Its id is
    /// `DatanetID.derive(creator:nonce:)`.
    case registerDatanet(name: String, description: String)
    /// Records that the sender contributed content with BLAKE2b hash `contentHash` and
    /// `sizeBytes` bytes to a datanet.
    case contribute(datanet: Digest, contentHash: Digest, sizeBytes: UInt64)
    /// Registers a LoRA adapter owned by the sender: its content hash, its base model's hash,
    /// the datanets it was trained on (ascending, no repeats), and its price per generated token.
    case registerAdapter(adapterHash: Digest, baseModelHash: Digest, datanets: [Digest], name: String, pricePerToken: UInt64)
    /// Locks `amount` of the sender's spendable balance as validator stake.
    case stake(amount: UInt64)
    /// Returns `amount` of the sender's stake to its balance.
    case unstake(amount: UInt64)
    /// Reports a validator that signed two conflicting votes: part of its stake is burned and
    /// it is jailed (out of the validator set two heights later).
    case evidence(DuplicateVoteEvidence)
    /// Settles an x402 payment to the sender, the authorization's payee: moves `charged`
    /// from the payer and consumes (payer, nonce) on the chain (docs/x402.md).
    case settlePayment(PaymentSettlement)
    /// Releases a settlement's royalty escrow to the contributors its attribution names
    /// (sent by the settlement's payee; `AttributionRelease`).
    case attribution(AttributionRelease)

    public static let nameMaxBytes = 64
    public static let descriptionMaxBytes = 512
    public static let lineageMaxDatanets = 16
    /// The largest single contribution, 1 TiB.
    public static let contributionMaxBytes: UInt64 = 1 << 40

    /// A short name of the kind, as used in JSON and logs.
    public var kind: String {
        switch self {
        case .transfer: "transfer"
        case .registerDatanet: "register_datanet"
        case .contribute: "contribute"
        case .registerAdapter: "register_adapter"
        case .stake: "stake"
        case .unstake: "unstake"
        case .evidence: "evidence"
        case .settlePayment: "settle_payment"
        case .attribution: "attribution"
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        switch self {
        case let .transfer(to, amount):
            writer.write(UInt8(1)); writer.write(to); writer.write(amount)
        case let .registerDatanet(name, description):
            writer.write(UInt8(2))
            writer.write(string: name, max: Self.nameMaxBytes)
            writer.write(string: description, max: Self.descriptionMaxBytes)
        case let .contribute(datanet, contentHash, sizeBytes):
            writer.write(UInt8(3)); writer.write(datanet); writer.write(contentHash); writer.write(sizeBytes)
        case let .registerAdapter(adapterHash, baseModelHash, datanets, name, pricePerToken):
            writer.write(UInt8(4)); writer.write(adapterHash); writer.write(baseModelHash)
            writer.write(array: datanets, max: Self.lineageMaxDatanets)
            writer.write(string: name, max: Self.nameMaxBytes)
            writer.write(pricePerToken)
        case let .stake(amount):
            writer.write(UInt8(5)); writer.write(amount)
        case let .unstake(amount):
            writer.write(UInt8(6)); writer.write(amount)
        case let .evidence(evidence):
            writer.write(UInt8(7)); writer.write(evidence)
        case let .settlePayment(settlement):
            writer.write(UInt8(8)); writer.write(settlement)
        case let .attribution(release):
            writer.write(UInt8(9)); writer.write(release)
        }
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        switch try reader.readUInt8() {
        case 1:
            self = .transfer(to: try reader.read(), amount: try reader.readUInt64())
        case 2:
            self = .registerDatanet(
                name: try reader.readString(max: Self.nameMaxBytes, field: "datanet name"),
                description: try reader.readString(max: Self.descriptionMaxBytes, field: "datanet description"))
        case 3:
            self = .contribute(datanet: try reader.read(), contentHash: try reader.read(), sizeBytes: try reader.readUInt64())
        case 4:
            let adapterHash: Digest = try reader.read()
            let baseModelHash: Digest = try reader.read()
            let datanets = try reader.readArray(of: Digest.self, max: Self.lineageMaxDatanets, field: "datanet lineage")
            let name = try reader.readString(max: Self.nameMaxBytes, field: "adapter name")
            self = .registerAdapter(
                adapterHash: adapterHash, baseModelHash: baseModelHash, datanets: datanets, name: name,
                pricePerToken: try reader.readUInt64())
        case 5:
            self = .stake(amount: try reader.readUInt64())
        case 6:
            self = .unstake(amount: try reader.readUInt64())
        case 7:
            self = .evidence(try reader.read())
        case 8:
            self = .settlePayment(try reader.read())
        case 9:
            self = .attribution(try reader.read())
        case let tag:
            throw .unknownTag(type: "transaction body", tag: tag)
        }
    }
}

/// Datanet identifiers.
public enum DatanetID {
    /// The id of the datanet created by `creator`'s transaction with `nonce`.
    public static func derive(creator: Address, nonce: UInt64) -> Digest {
        var writer = CanonicalWriter()
        writer.write(string: "tributary/datanet", max: 32)
        writer.write(creator)
        writer.write(nonce)
        return Digest.blake2b(writer.bytes)
    }
}
