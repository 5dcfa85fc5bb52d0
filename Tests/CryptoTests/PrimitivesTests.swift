import Crypto
import Foundation
import Testing

@Suite struct PrimitivesTests {
    @Test func blake2b256MatchesKnownVectors() {
        #expect(Digest.blake2b([UInt8]()).hex == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        #expect(Digest.blake2b(Array("abc".utf8)).hex == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
    }

    @Test func hexRoundTripsAndRejectsBadText() {
        let bytes: [UInt8] = [0, 1, 0xab, 0xff]
        #expect(Hex.encode(bytes) == "0001abff")
        #expect(Hex.decode("0001ABff") == bytes)
        #expect(Hex.decode("0001abf") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("00 1") == nil)
        #expect(Hex.decode("0001", expectedCount: 3) == nil)
        #expect(Hex.decode("") == [])
    }

    /// RFC 8032, section 7.1, test 1 (empty message).
    @Test func ed25519MatchesRFC8032() throws {
        let key = try #require(SigningKey(seed: Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!))
        #expect(key.publicKey.hex == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = key.sign([UInt8]())
        #expect(signature.hex == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.isValidSignature(signature, for: [UInt8]()))
    }

    @Test func signaturesFailOnAnyChange() {
        let key = SigningKey()
        let message = Array("pay 5 OPEN".utf8)
        let signature = key.sign(message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Array("pay 6 OPEN".utf8)))
        #expect(!SigningKey().publicKey.isValidSignature(signature, for: message))
        var flipped = signature.bytes
        flipped[10] ^= 1
        #expect(!key.publicKey.isValidSignature(Signature(flipped)!, for: message))
    }

    @Test func signingDomainsAndChainsDoNotCrossVerify() {
        let key = SigningKey()
        let payload: [UInt8] = [1, 2, 3]
        let signature = key.sign(payload, domain: .transaction, chainID: "devnet")
        #expect(key.publicKey.isValidSignature(signature, for: payload, domain: .transaction, chainID: "devnet"))
        #expect(!key.publicKey.isValidSignature(signature, for: payload, domain: .transaction, chainID: "mainnet"))
        #expect(!key.publicKey.isValidSignature(signature, for: payload, domain: .vote, chainID: "devnet"))
        #expect(!key.publicKey.isValidSignature(signature, for: payload))
    }

    @Test func constantTimeEqualComparesContentAndLength() {
        #expect(constantTimeEqual([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!constantTimeEqual([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!constantTimeEqual([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(constantTimeEqual([UInt8](), [UInt8]()))
    }

    @Test func seedsRecreateTheSameKey() throws {
        let key = SigningKey()
        let again = try #require(SigningKey(seed: key.seed))
        #expect(again.publicKey == key.publicKey)
        #expect(SigningKey(seed: [1, 2, 3]) == nil)
    }
}

@Suite final class KeyFileTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keyfile-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    @Test func writesMode0600AndReadsBack() throws {
        let path = directory + "/a.key"
        let key = SigningKey()
        try KeyFile.write(key, to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        #expect(try KeyFile.read(from: path).publicKey == key.publicKey)
    }

    @Test func refusesToOverwrite() throws {
        let path = directory + "/b.key"
        try KeyFile.write(SigningKey(), to: path)
        #expect(throws: KeyFile.Error.self) { try KeyFile.write(SigningKey(), to: path) }
    }

    @Test func refusesGroupOrWorldReadableFiles() throws {
        let path = directory + "/c.key"
        try KeyFile.write(SigningKey(), to: path)
        chmod(path, 0o644)
        #expect(throws: KeyFile.Error.self) { try KeyFile.read(from: path) }
        chmod(path, 0o640)
        #expect(throws: KeyFile.Error.self) { try KeyFile.read(from: path) }
        chmod(path, 0o400)
        _ = try KeyFile.read(from: path)
    }

    @Test func rejectsMalformedFiles() throws {
        for (name, text) in [("d", "not json"), ("e", #"{"type": "rsa", "seed": "00"}"#),
                             ("f", #"{"type": "ed25519", "seed": "1234"}"#),
                             ("g", #"{"type": "ed25519", "address": "\#(String(repeating: "a", count: 64))", "seed": "\#(String(repeating: "0", count: 64))"}"#)] {
            let path = directory + "/\(name).key"
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            #expect(throws: KeyFile.Error.self) { try KeyFile.read(from: path) }
        }
        #expect(throws: KeyFile.Error.self) { try KeyFile.read(from: directory + "/missing.key") }
    }
}
