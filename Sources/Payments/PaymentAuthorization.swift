import Crypto
import Foundation
import Ledger

/// An authorization as `payload.authorization` carries it: every value a JSON string.
extension PaymentAuthorization {
    /// An authorization answering `offer`: its scheme, network, asset, payee, amount and
    /// resource, valid from `now` for the offer's timeout, with a fresh random nonce.
    public init?(answering offer: PaymentRequirements, from payer: Address, now: UInt64) {
        guard let amount = X402JSON.amount(offer.amount), let resource = offer.resource else { return nil }
        self.init(scheme: offer.scheme, network: offer.network, from: payer, to: offer.payTo, asset: offer.asset, amount: amount,
                  validAfter: now, validBefore: now + UInt64(offer.maxTimeoutSeconds), nonce: Bytes32(secureRandomBytes(32))!, resource: resource)
    }

    /// The JSON object (all values strings).
    public var json: [String: Any] {
        ["scheme": scheme, "network": network, "from": from.hex, "to": to, "asset": asset, "amount": String(amount),
         "validAfter": String(validAfter), "validBefore": String(validBefore), "nonce": nonce.hex, "resource": resource]
    }

    /// Reads an authorization, refusing values outside their formats: addresses and nonces
    /// as 64 lowercase hex, amounts and times as decimal strings without leading zeros.
    init(_ object: X402Object) throws(X402Malformed) {
        func hex32(_ key: String) throws(X402Malformed) -> Bytes32 {
            let text = try object.string(key)
            guard text.utf8.count == 64, text == text.lowercased(), let value = Bytes32(hex: text) else {
                throw X402Malformed("\(object.name(key)) must be 64 lowercase hex characters")
            }
            return value
        }
        self.init(
            scheme: try object.string("scheme"), network: try object.string("network"), from: Address(try hex32("from")),
            to: try object.string("to"), asset: try object.string("asset"), amount: try object.amount("amount"),
            validAfter: try object.amount("validAfter"), validBefore: try object.amount("validBefore"), nonce: try hex32("nonce"),
            resource: try object.string("resource"))
    }
}
