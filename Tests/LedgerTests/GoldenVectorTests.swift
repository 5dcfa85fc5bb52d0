import Crypto
import Ledger
import Testing

/// Checked-in bytes and hashes of every signed or hashed ledger encoding. Keys come from fixed
/// seeds and Ed25519 signatures are deterministic, so these never change unless an encoding
/// does — and then every node that signed or hashed the old bytes disagrees with the new ones.
/// A failure here means a consensus-breaking change: update the vectors only on purpose.
@Suite struct LedgerGoldenVectorTests {
    static let chainID = "golden"
    static let sender = SigningKey(seed: Digest.blake2b(Array("golden sender".utf8)).bytes)!
    static let validator = SigningKey(seed: Digest.blake2b(Array("golden validator".utf8)).bytes)!

    static let transaction = Transaction(sender: sender.publicKey, nonce: 7, fee: 1_000,
                                         body: .transfer(to: validator.publicKey, amount: 1_500_000_000))
        .signed(by: sender, chainID: chainID)
    static let header = BlockHeader(
        chainID: chainID, height: 42, timeMs: 1_800_000_000_123, previousHash: Digest.blake2b(Array("previous".utf8)),
        transactionsRoot: MerkleRoot.of([transaction.hash]), appHash: Digest.blake2b(Array("state".utf8)), proposer: validator.publicKey)
    static let vote = SignedVote(Vote(kind: .precommit, height: 42, round: 3, blockHash: header.hash), signedBy: validator, chainID: chainID)
    static let certificate = CommitCertificate(round: 3, signatures: [CommitSignature(validator: validator.publicKey, signature: vote.signature)])

    @Test func transaction() {
        #expect(Hex.encode(Self.transaction.canonicalBytes) == "ed802f8559b6e3e19eefa32abda45c52e196ca5b4217d56e82c0c748c5e4e3df000000000000000700000000000003e801ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d20000000059682f008fdd249c7db3d3592db251bb500c880e23d31a782e3a08f5d06911cb2127b32c0137e645ead3b422b84da13a4f3c79737a5fd3d348d2a354e0c3bd18eea45708")
        #expect(Self.transaction.hash.hex == "e92be65f77daf14b687cffd3638aa8150fe021652f4ae77fb0017afd73e91eec")
    }

    @Test func blockHeader() {
        #expect(Hex.encode(Self.header.canonicalBytes) == "00000006676f6c64656e000000000000002a000001a3185c507bc7bac5d4a08d680e59daffa50cf2ff13328419b17f866e1815d3fc307b371de0c42f48374a0845a286663157b88fa2b6610f2f76f8ae0974be2c4233becafa510ced162a56b08dffb00f664b30b788b95dc961e36f5edc6ae67ba2d5261282f1ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d2")
        #expect(Self.header.hash.hex == "580c3d0ebe3eb6146bca0132305050b40bfa034a804fffb1caad45e4dbbd1c06")
    }

    @Test func vote() {
        #expect(Hex.encode(Self.vote.canonicalBytes) == "02000000000000002a0000000301580c3d0ebe3eb6146bca0132305050b40bfa034a804fffb1caad45e4dbbd1c06ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d2ab7d208e0a77ab5aedf393d82e608e4638a11877c18a50e6b4e4375e3a00f4438086239e0d19c985677fe446d183f0f0826d501a0bc9bc2acf4e5e9c5ef50f0e")
        #expect(Digest.blake2b(Self.vote.canonicalBytes).hex == "24fb6751c447c79df1f18fc1a9ca84dcdc64026ed928b040175a819692e7fd01")
    }

    @Test func certificate() {
        #expect(Hex.encode(Self.certificate.canonicalBytes) == "0000000300000001ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d2ab7d208e0a77ab5aedf393d82e608e4638a11877c18a50e6b4e4375e3a00f4438086239e0d19c985677fe446d183f0f0826d501a0bc9bc2acf4e5e9c5ef50f0e")
        #expect(Digest.blake2b(Self.certificate.canonicalBytes).hex == "c568fac27d51f35c75207adec09f3a5b063732d61f708ee79f1223097a8a1196")
    }
}
