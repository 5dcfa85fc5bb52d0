import Crypto

/// Where a record lives in the state. The encoded key (one prefix byte, then the record's id)
/// orders records by kind, so a prefix scan lists one kind.
public enum StateKey: Hashable, Sendable {
    case account(Address)
    case vesting(Address)
    case datanet(Digest)
    case contribution(datanet: Digest, contentHash: Digest)
    case adapter(Digest)
    case validator(Address)
    case parameters
    case supply
    case slash(validator: Address, height: UInt64)
    case unbonding(Address)
    /// A settled x402 authorization's (payer, nonce): consumed until its `validBefore`.
    case paymentNonce(payer: Address, nonce: Bytes32)
    /// The same, ordered by `validBefore` so expired nonces are pruned oldest first.
    case paymentExpiry(validBefore: UInt64, payer: Address, nonce: Bytes32)
    /// The contributors' share of a settlement (by its transaction hash), until released.
    case royaltyEscrow(settlement: Digest)
    /// The same, ordered by the height at which it expires.
    case royaltyExpiry(height: UInt64, settlement: Digest)

    /// The longest encoded key (a payment expiry: prefix, time, payer, nonce).
    public static let bytesMax = 73

    /// The prefix byte of each kind.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case account = 1, vesting, datanet, contribution, adapter, validator, parameters, supply, slash, unbonding, paymentNonce, paymentExpiry,
            royaltyEscrow, royaltyExpiry
    }

    public var kind: Kind {
        switch self {
        case .account: .account
        case .vesting: .vesting
        case .datanet: .datanet
        case .contribution: .contribution
        case .adapter: .adapter
        case .validator: .validator
        case .parameters: .parameters
        case .supply: .supply
        case .slash: .slash
        case .unbonding: .unbonding
        case .paymentNonce: .paymentNonce
        case .paymentExpiry: .paymentExpiry
        case .royaltyEscrow: .royaltyEscrow
        case .royaltyExpiry: .royaltyExpiry
        }
    }

    public var bytes: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 65)
        writer.write(kind.rawValue)
        switch self {
        case let .account(address), let .vesting(address), let .validator(address), let .unbonding(address):
            writer.write(address)
        case let .datanet(id), let .adapter(id), let .royaltyEscrow(id):
            writer.write(id)
        case let .contribution(datanet, contentHash):
            writer.write(datanet)
            writer.write(contentHash)
        case .parameters, .supply:
            break
        case let .slash(validator, height):
            writer.write(validator)
            writer.write(height)
        case let .paymentNonce(payer, nonce):
            writer.write(payer)
            writer.write(nonce)
        case let .paymentExpiry(validBefore, payer, nonce):
            writer.write(validBefore)
            writer.write(payer)
            writer.write(nonce)
        case let .royaltyExpiry(height, settlement):
            writer.write(height)
            writer.write(settlement)
        }
        return writer.bytes
    }

    /// Parses an encoded key; nil for anything `bytes` cannot produce.
    public init?(bytes: [UInt8]) {
        guard let first = bytes.first, let kind = Kind(rawValue: first) else { return nil }
        let body = bytes.dropFirst()
        func id(_ slice: ArraySlice<UInt8>) -> Bytes32? { Bytes32(slice) }
        switch kind {
        case .account, .vesting, .validator, .unbonding:
            guard let raw = id(body) else { return nil }
            let address = PublicKey(raw)
            switch kind {
            case .account: self = .account(address)
            case .vesting: self = .vesting(address)
            case .validator: self = .validator(address)
            default: self = .unbonding(address)
            }
        case .datanet, .adapter, .royaltyEscrow:
            guard let raw = id(body) else { return nil }
            switch kind {
            case .datanet: self = .datanet(Digest(raw))
            case .adapter: self = .adapter(Digest(raw))
            default: self = .royaltyEscrow(settlement: Digest(raw))
            }
        case .contribution:
            guard body.count == 64, let datanet = id(body.prefix(32)), let content = id(body.suffix(32)) else { return nil }
            self = .contribution(datanet: Digest(datanet), contentHash: Digest(content))
        case .parameters:
            guard body.isEmpty else { return nil }
            self = .parameters
        case .supply:
            guard body.isEmpty else { return nil }
            self = .supply
        case .slash:
            guard body.count == 40, let validator = id(body.prefix(32)) else { return nil }
            self = .slash(validator: PublicKey(validator), height: body.suffix(8).reduce(0) { $0 << 8 | UInt64($1) })
        case .paymentNonce:
            guard body.count == 64, let payer = id(body.prefix(32)), let nonce = id(body.suffix(32)) else { return nil }
            self = .paymentNonce(payer: PublicKey(payer), nonce: nonce)
        case .paymentExpiry:
            guard body.count == 72, let payer = id(body.dropFirst(8).prefix(32)), let nonce = id(body.suffix(32)) else { return nil }
            self = .paymentExpiry(validBefore: body.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, payer: PublicKey(payer), nonce: nonce)
        case .royaltyExpiry:
            guard body.count == 40, let settlement = id(body.suffix(32)) else { return nil }
            self = .royaltyExpiry(height: body.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, settlement: Digest(settlement))
        }
    }
}
