import Foundation
import Ledger

/// Constants of the x402 v2 HTTP transport and of the `tributary:*` schemes
/// (docs/x402.md; the normative contract is the x402-tributary scheme page it follows).
public enum X402 {
    /// The protocol version every message carries in `x402Version`.
    public static let version = 2
    /// The server's offers, on a `402` answer.
    public static let paymentRequiredHeader = "PAYMENT-REQUIRED"
    /// The client's signed payment, on the retried request.
    public static let paymentSignatureHeader = "PAYMENT-SIGNATURE"
    /// The settlement receipt, on the paid answer.
    public static let paymentResponseHeader = "PAYMENT-RESPONSE"
    /// Largest header value accepted, in bytes of its base64 text.
    public static let headerBytesMax = 8 * 1024
    /// The only asset: OPEN, the native token.
    public static let asset = PaymentAuthorization.asset
    /// OPEN's decimals, as offers state them in `extra.decimals`.
    public static let decimals = OPEN.decimals
    /// An authorization's window may exceed the offer's `maxTimeoutSeconds` by this much.
    public static let windowSlackSeconds: UInt64 = 60

    /// The CAIP-2 style network name of a chain, e.g. `tributary:devnet`.
    public static func network(chainID: String) -> String { PaymentAuthorization.network(chainID: chainID) }
}
