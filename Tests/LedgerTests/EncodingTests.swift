import Crypto
import Foundation
import Ledger
import Testing

@Suite struct EncodingTests {
    let key = SigningKey()

    var bodies: [TransactionBody] {
        [
            .transfer(to: SigningKey().publicKey, amount: 12_345),
            .registerDatanet(name: "名前", description: "a description"),
            .contribute(datanet: Digest.blake2b([1]), contentHash: Digest.blake2b([2]), sizeBytes: 99),
            .registerAdapter(adapterHash: Digest.blake2b([3]), baseModelHash: Digest.blake2b([4]),
                             datanets: [Digest.blake2b([5]), Digest.blake2b([6])].sorted(), name: "qv-r8", pricePerToken: 7),
            .stake(amount: UInt64.max),
            .unstake(amount: 1),
            .attribution(AttributionRelease(settlement: Digest.blake2b([7]), proof: Digest.blake2b([8]),
                                            shares: [.init(document: Digest.blake2b([9]), weight: AttributionRelease.weightTotal)])),
        ]
    }

    @Test func transactionsRoundTrip() throws {
        for (index, body) in bodies.enumerated() {
            let signed = Transaction(sender: key.publicKey, nonce: UInt64(index), fee: 1_000, body: body).signed(by: key, chainID: "devnet")
            let decoded = try SignedTransaction(canonicalBytes: signed.canonicalBytes)
            #expect(decoded.transaction == signed.transaction)
            #expect(decoded.signature == signed.signature)
            #expect(decoded.hash == signed.hash)
            #expect(decoded.hasValidSignature(chainID: "devnet"))
        }
    }

    @Test func malformedTransactionsAreRejectedWithTypedErrors() throws {
        for body in bodies {
            let bytes = Transaction(sender: key.publicKey, nonce: 0, fee: 0, body: body).signed(by: key, chainID: "devnet").canonicalBytes
            for length in 0..<bytes.count {
                #expect(throws: CanonicalDecodingError.self) { try SignedTransaction(canonicalBytes: bytes.prefix(length)) }
            }
            #expect(throws: CanonicalDecodingError.trailingBytes(count: 2)) { try SignedTransaction(canonicalBytes: bytes + [0, 0]) }
        }
        var bytes = Transaction(sender: key.publicKey, nonce: 0, fee: 0, body: .stake(amount: 1)).canonicalBytes
        bytes[48] = 99  // body tag after sender (32), nonce (8), fee (8)
        #expect(throws: CanonicalDecodingError.unknownTag(type: "transaction body", tag: 99)) { try Transaction(canonicalBytes: bytes) }
    }

    @Test func oversizeFieldsAreRejected() throws {
        var writer = CanonicalWriter()
        writer.write(key.publicKey)
        writer.write(UInt64(0))
        writer.write(UInt64(0))
        writer.write(UInt8(2))
        writer.write(bytes: [UInt8](repeating: 65, count: 65), max: 65)
        writer.write(string: "", max: 0)
        #expect(throws: CanonicalDecodingError.oversize(field: "datanet name", length: 65, max: 64)) {
            try Transaction(canonicalBytes: writer.bytes)
        }
        #expect(throws: CanonicalDecodingError.self) {
            try SignedTransaction(canonicalBytes: [UInt8](repeating: 0, count: SignedTransaction.maxBytes + 1), maxBytes: SignedTransaction.maxBytes)
        }
    }

    @Test func blocksRoundTripAndCertificatesMustBeOrdered() throws {
        let validators = [SigningKey(), SigningKey(), SigningKey()]
        let header = BlockHeader(chainID: "devnet", height: 3, timeMs: 1_000, previousHash: Digest.blake2b([1]),
                                 transactionsRoot: .zero, appHash: Digest.blake2b([2]), proposer: validators[0].publicKey)
        let transaction = Transaction(sender: key.publicKey, nonce: 0, fee: 1, body: .stake(amount: 5)).signed(by: key, chainID: "devnet")
        let block = Block(header: header, transactions: [transaction], certificate: .signing(header, round: 2, keys: validators))
        #expect(try Block(canonicalBytes: block.canonicalBytes) == block)

        var unordered = block
        unordered.certificate.signatures.reverse()
        #expect(throws: CanonicalDecodingError.nonCanonical("certificate signatures not in ascending validator order")) {
            try Block(canonicalBytes: unordered.canonicalBytes)
        }
    }

    @Test func stateKeysRoundTrip() {
        let keys: [StateKey] = [
            .account(key.publicKey), .vesting(key.publicKey), .validator(key.publicKey), .datanet(Digest.blake2b([1])),
            .adapter(Digest.blake2b([2])), .contribution(datanet: Digest.blake2b([3]), contentHash: Digest.blake2b([4])),
            .parameters, .supply, .royaltyEscrow(settlement: Digest.blake2b([5])), .royaltyExpiry(height: 1 << 40 | 7, settlement: Digest.blake2b([6])),
        ]
        for stateKey in keys { #expect(StateKey(bytes: stateKey.bytes) == stateKey) }
        #expect(StateKey(bytes: [1, 2, 3]) == nil)
        #expect(StateKey(bytes: [99]) == nil)
        #expect(StateKey(bytes: StateKey.supply.bytes + [0]) == nil)
    }

    @Test func genesisJSONRoundTripsAndIsValidated() throws {
        let genesis = Genesis(
            chainID: "devnet", genesisTime: 1_795_000_000, parameters: ChainParameters(minFee: 1_000, minStake: 10),
            validators: [.init(address: key.publicKey, power: 10)],
            allocations: [.init(address: SigningKey().publicKey, amount: 5)],
            vesting: [.init(address: SigningKey().publicKey, schedule: VestingSchedule(amount: 9, startTime: 1, cliffSeconds: 2, durationSeconds: 3))])
        #expect(try Genesis(json: genesis.json) == genesis)
        #expect(try genesis.validated() == 10 * OPEN.atomicUnitsPerOPEN + 5 + 9)

        var bad = genesis
        bad.chainID = "Dev Net"
        #expect(throws: GenesisError.self) { try Genesis(json: bad.json) }
        bad = genesis
        bad.allocations.append(bad.allocations[0])
        #expect(throws: GenesisError.self) { try Genesis(json: bad.json) }
        bad = genesis
        bad.allocations = [.init(address: SigningKey().publicKey, amount: UInt64.max)]
        #expect(throws: GenesisError.self) { try Genesis(json: bad.json) }
        bad = genesis
        bad.validators = []
        #expect(throws: GenesisError.self) { try Genesis(json: bad.json) }
        #expect(throws: GenesisError.self) { try Genesis(json: Data(#"{"chain_id": "x"}"#.utf8)) }
        let leadingZero = String(decoding: genesis.json, as: UTF8.self).replacingOccurrences(of: "\"amount\" : \"5\"", with: "\"amount\" : \"05\"")
        #expect(throws: GenesisError.self) { try Genesis(json: Data(leadingZero.utf8)) }
    }

    @Test func openAmountsParseExactly() {
        #expect(OPEN.atomicUnits(fromDecimal: "1.5") == 1_500_000_000)
        #expect(OPEN.atomicUnits(fromDecimal: "0.000000001") == 1)
        #expect(OPEN.atomicUnits(fromDecimal: "1000000") == 1_000_000 * OPEN.atomicUnitsPerOPEN)
        #expect(OPEN.atomicUnits(fromDecimal: "0.0000000001") == nil)
        #expect(OPEN.atomicUnits(fromDecimal: "-1") == nil)
        #expect(OPEN.atomicUnits(fromDecimal: "1e3") == nil)
        #expect(OPEN.atomicUnits(fromDecimal: "1.") == nil)
        #expect(OPEN.atomicUnits(fromDecimal: "18446744074") == nil)
        #expect(OPEN.decimal(fromAtomicUnits: 1_500_000_000) == "1.5")
        #expect(OPEN.decimal(fromAtomicUnits: 1) == "0.000000001")
        #expect(OPEN.decimal(fromAtomicUnits: 7 * OPEN.atomicUnitsPerOPEN) == "7")
    }
}
