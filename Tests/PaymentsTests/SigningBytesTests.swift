import Crypto
import Foundation
import Ledger
import Payments
import Testing

/// The signing bytes and signature of one authorization, against a vector made outside this
/// code base: pyca/cryptography 48 signed the spec's eleven lines for the seed 01 02 … 20
/// (`Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))`).
@Suite struct SigningBytesTests {
    static let key = SigningKey(seed: Array(1...32))!
    static let payer = "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
    static let signature = "9e3UD9qYiDdGRvG3MIseaaDDutpb/U+2srdoSZJK08OyUU4m2QP9zuLQGIsrTKxKKh8NxL5gGtRNkCH2A2+SCA=="

    static let authorization = PaymentAuthorization(
        scheme: "exact", network: "tributary:devnet", from: key.publicKey, to: String(repeating: "ab", count: 32), asset: "OPEN",
        amount: 2_500_000, validAfter: 1_795_000_000, validBefore: 1_795_000_060, nonce: Bytes32(hex: String(repeating: "0f", count: 32))!,
        resource: "http://127.0.0.1:8545/v1/completions")

    @Test func signingBytesAreTheSpecsElevenLines() {
        let expected = """
            x402-tributary-v1
            scheme:exact
            network:tributary:devnet
            from:\(Self.payer)
            to:\(String(repeating: "ab", count: 32))
            asset:OPEN
            amount:2500000
            validAfter:1795000000
            validBefore:1795000060
            nonce:\(String(repeating: "0f", count: 32))
            resource:http://127.0.0.1:8545/v1/completions

            """
        #expect(Self.key.publicKey.hex == Self.payer)
        #expect(Self.authorization.signingBytes == Array(expected.utf8))
    }

    @Test func signatureMatchesTheOutsideVector() {
        let signature = Self.authorization.signed(by: Self.key)
        #expect(Data(signature.bytes).base64EncodedString() == Self.signature)
        #expect(Self.authorization.isSigned(by: signature))
    }

    @Test func everySignedFieldIsCovered() {
        let signature = Signature(Data(base64Encoded: Self.signature)!)!
        var changes: [(inout PaymentAuthorization) -> Void] = [
            { $0.scheme = "upto" }, { $0.network = "tributary:other" }, { $0.to = String(repeating: "ac", count: 32) },
            { $0.asset = "OPEN2" }, { $0.amount += 1 }, { $0.validAfter -= 1 }, { $0.validBefore += 1 },
            { $0.resource += "x" }, { $0.nonce = Bytes32(hex: String(repeating: "0e", count: 32))! },
        ]
        changes.append { $0.from = SigningKey().publicKey }
        for change in changes {
            var changed = Self.authorization
            change(&changed)
            #expect(!changed.isSigned(by: signature))
        }
    }
}
