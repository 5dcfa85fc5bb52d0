import Consensus
import Crypto
import Foundation
import Ledger
import Testing

/// Checked-in bytes and hashes of the consensus encodings that are signed or written: a
/// proposal and a WAL file. See `LedgerGoldenVectorTests`; update only on purpose.
@Suite struct ConsensusGoldenVectorTests {
    static let chainID = "golden"
    static let validator = SigningKey(seed: Digest.blake2b(Array("golden validator".utf8)).bytes)!
    static let sender = SigningKey(seed: Digest.blake2b(Array("golden sender".utf8)).bytes)!
    static let candidate = BlockCandidate(
        header: BlockHeader(chainID: chainID, height: 42, timeMs: 1_800_000_000_123, previousHash: Digest.blake2b(Array("previous".utf8)),
                            transactionsRoot: .zero, appHash: Digest.blake2b(Array("state".utf8)), proposer: validator.publicKey),
        transactions: [])
    static let proposal = SignedProposal(Proposal(height: 42, round: 3, validRound: 1, blockHash: candidate.hash), candidate: candidate,
                                         signedBy: validator, chainID: chainID)

    @Test func proposal() {
        let bytes = ConsensusMessage.proposal(Self.proposal).canonicalBytes
        #expect(Hex.encode(bytes) == "01000000000000002a000000030100000001445d330f5b602b2ec621a92f8cc0570de82090b9cb2a2f34360e20c492e9d5ae00000006676f6c64656e000000000000002a000001a3185c507bc7bac5d4a08d680e59daffa50cf2ff13328419b17f866e1815d3fc307b371de000000000000000000000000000000000000000000000000000000000000000000ced162a56b08dffb00f664b30b788b95dc961e36f5edc6ae67ba2d5261282f1ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d200000000ce1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d22bf0c899d8921b746aa2855f1bd21cac3d3dbe6eb6960a1cd5c611750d0057393542671cf27c1b0e6e20d2039daca1b51c21fd94785ed311e9aacd1515306a0d")
        #expect(Digest.blake2b(bytes).hex == "1296597c3c42fd36b0a5aec7b213cee94fce6382e4ca3c6a5077c85548316c6d")
    }

    @Test func walFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString).wal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let vote = SignedVote(Vote(kind: .prevote, height: 42, round: 3, blockHash: Self.candidate.hash), signedBy: Self.validator, chainID: Self.chainID)
        do {
            let wal = try ConsensusWAL(path: path)
            try wal.startHeight(42)
            try wal.append(.vote(vote))
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Hex.encode(bytes) == "54524257414c303200000009f5e9df30b5d7f27240e910af01000000000000002a0000008f77c423e51c9d381627d63c830201000000000000002a0000000301445d330f5b602b2ec621a92f8cc0570de82090b9cb2a2f34360e20c492e9d5aece1efba24086c25e02196fc00dcfba4e7a31b73e46ee69589b8ca2c46d1753d28ac6a6b87491f26ed0a8d295d5d90e707b735491e9d1c1748b2e16083d9651bff236336852afaa80291dcacce9616282d3a3796a4f61c7755e758f6421d57908")
        #expect(Digest.blake2b(bytes).hex == "e0f0b81b59396d2666c5507305f215c8abaaa719fd2585b6d944d0eca4e49371")
    }
}
