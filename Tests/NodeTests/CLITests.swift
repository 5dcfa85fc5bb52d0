import Crypto
import Foundation
import Ledger
import Testing

/// The `tributary` command line and HTTP API, against a real node process.
@Suite(.serialized) struct CLITests {
    @Test func everyCommandHasHelp() throws {
        let listing = try Tributary.run(["--help"])
        #expect(listing.status == 0)
        let commands = listing.stdout.split(separator: "\n")
            .filter { $0.hasPrefix("  ") }
            .map { $0.trimmingCharacters(in: .whitespaces).components(separatedBy: "  ")[0] }
        #expect(commands.contains("tx transfer") && commands.contains("query account") && commands.contains("bench ledger"))
        for command in commands {
            let help = try Tributary.run(command.split(separator: " ").map(String.init) + ["--help"])
            #expect(help.status == 0 && help.stdout.contains("Usage: tributary \(command)"), "\(command) --help")
        }
    }

    @Test func mistakesAreOneLineOnStderrWithNonZeroExit() throws {
        let directory = Tributary.temporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (arguments, status) in [
            (["nonsense"], Int32(2)),
            (["keys", "new"], 2),
            (["keys", "new", "--out", directory + "/k", "--bogus"], 2),
            (["tx", "transfer", "--key", directory + "/missing.key", "--to", "xyz", "--amount", "1"], 2),
            (["query", "account", "ab", "--node", "http://127.0.0.1:1"], 1),
            (["init", "--home", directory + "/h", "--validator-key", directory + "/v.key", "--fund", "zz=1"], 2),
            (["start", "--home", directory + "/nothing-here"], 1),
            ([], 2),
            (["tx"], 2),
            (["testnet", "--validators", "2", "--out", directory + "/t6", "--host", "::1"], 2),
            (["testnet", "--validators", "2", "--out", directory + "/t7", "--host", "bad host"], 2),
        ] {
            let result = try Tributary.run(arguments)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: "), "\(arguments): \(result.stderr)")
        }
    }

    /// `init` keeps a config.json already in the home (changing only the options given), and
    /// checks the home's key file before writing any file; bad settings from config.json or
    /// the environment are named, not a crash.
    @Test(.timeLimit(.minutes(2))) func initKeepsAConfigAndWritesNothingOnAClash() throws {
        let directory = Tributary.temporaryDirectory("init-config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let home = directory + "/h"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try Data(#"{"admin_token": "s3cret", "price_per_token": 1000}"#.utf8).write(to: URL(fileURLWithPath: home + "/config.json"))
        let initialized = try Tributary.run(["init", "--home", home, "--validator-key", directory + "/v.key", "--block-interval-ms", "70"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: home + "/config.json"))) as? [String: Any])
        #expect(config["admin_token"] as? String == "s3cret" && config["price_per_token"] as? Int == 1000 && config["block_interval_ms"] as? Int == 70)

        let clash = directory + "/clash"
        try FileManager.default.createDirectory(atPath: clash, withIntermediateDirectories: true)
        #expect(try Tributary.run(["keys", "new", "--out", clash + "/validator.key"]).status == 0)
        let refused = try Tributary.run(["init", "--home", clash, "--validator-key", directory + "/other.key"])
        #expect(refused.status == 1 && refused.stderr.contains("holds another validator key"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/other.key"))
        #expect(!FileManager.default.fileExists(atPath: clash + "/genesis.json"))

        try Data(#"{"price_per_token": -5}"#.utf8).write(to: URL(fileURLWithPath: home + "/config.json"))
        let negative = try Tributary.run(["start", "--home", home])
        #expect(negative.status == 2 && negative.stderr.contains("price_per_token"), "\(negative.stderr)")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: home + "/config.json"))
        let variable = try Tributary.run(["start", "--home", home], environment: ["TRIBUTARY_BLOCK_INTERVAL_MS": "abc"])
        #expect(variable.status == 1 && variable.stderr.contains("TRIBUTARY_BLOCK_INTERVAL_MS"), "\(variable.stderr)")
    }

    @Test func keysInitStartTransferQuery() throws {
        let directory = Tributary.temporaryDirectory("tour")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alice = try Tributary.run(["keys", "new", "--out", directory + "/alice.key"])
        let bob = try Tributary.run(["keys", "new", "--out", directory + "/bob.key"])
        let aliceAddress = alice.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let bobAddress = bob.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(aliceAddress.count == 64 && PublicKey(hex: aliceAddress) != nil)
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/alice.key")[.posixPermissions] as! Int
        #expect(mode == 0o600)

        let home = directory + "/n0"
        let initialized = try Tributary.run(["init", "--home", home, "--chain-id", "devnet", "--validator-key", directory + "/n0.key",
                                             "--fund", "\(aliceAddress)=1000000", "--block-interval-ms", "50"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        let again = try Tributary.run(["init", "--home", home, "--validator-key", directory + "/n0.key"])
        #expect(again.status == 1)

        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--log-format", "json"])
        let transfer = try Tributary.run(["tx", "transfer", "--key", directory + "/alice.key", "--to", bobAddress,
                                          "--amount", "1.5", "--node", node.url, "--json"])
        #expect(transfer.status == 0, "\(transfer.stderr)")
        let receipt = try JSONSerialization.jsonObject(with: Data(transfer.stdout.utf8)) as! [String: Any]
        #expect(receipt["status"] as? String == "committed")

        let account = try Tributary.run(["query", "account", bobAddress, "--node", node.url, "--json"])
        let fields = try JSONSerialization.jsonObject(with: Data(account.stdout.utf8)) as! [String: Any]
        #expect(fields["balance"] as? String == "1500000000")
        let human = try Tributary.run(["query", "account", aliceAddress, "--node", node.url])
        #expect(human.stdout.contains("nonce: 1"))
        let tx = try Tributary.run(["query", "tx", receipt["hash"] as! String, "--node", node.url, "--json"])
        #expect(tx.stdout.contains("\"committed\""))
        let block = try Tributary.run(["query", "block", "latest", "--node", node.url, "--json"])
        #expect(block.status == 0 && block.stdout.contains("certificate"))
        let status = try Tributary.run(["query", "status", "--node", node.url])
        #expect(status.stdout.contains("chain_id: devnet"))

        // Bob's account is empty: a clear refusal, nothing lost.
        let overdraw = try Tributary.run(["tx", "transfer", "--key", directory + "/bob.key", "--to", aliceAddress,
                                          "--amount", "2", "--node", node.url])
        #expect(overdraw.status == 1 && overdraw.stderr.hasPrefix("error: insufficient_funds"))

        #expect(node.stop(signal: SIGINT) == 0)
        // JSON log lines parse as JSON objects.
        let logLines = node.log.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(logLines.count >= 2)
        for line in logLines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["msg"] != nil && object?["level"] != nil)
        }
    }
}

@Suite(.serialized) struct HTTPAPITests {
    @Test func errorsAreJSONWithTheRightStatus() throws {
        let directory = Tributary.temporaryDirectory("api")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alice = SigningKey()
        let home = directory + "/home"
        #expect(try Tributary.run(["init", "--home", home, "--chain-id", "apinet", "--validator-key", directory + "/v.key",
                                   "--fund", "\(alice.publicKey.hex)=10", "--block-interval-ms", "20"]).status == 0)
        let node = try NodeProcess(home: home, port: Tributary.freePort())
        let url = node.url

        func expectError(_ response: HTTP.Response, _ status: Int, _ code: String) {
            #expect(response.status == status, "\(response.json)")
            #expect(response.json["error"] as? String == code, "\(response.json)")
            #expect(response.json["message"] is String)
        }
        expectError(try HTTP.get("\(url)/v1/nowhere"), 404, "not_found")
        expectError(try HTTP.send("DELETE", "\(url)/v1/status"), 405, "method_not_allowed")
        expectError(try HTTP.get("\(url)/v1/accounts/not-hex"), 400, "malformed_address")
        expectError(try HTTP.get("\(url)/v1/blocks/99"), 404, "not_found")
        expectError(try HTTP.get("\(url)/v1/txs/\(String(repeating: "0", count: 64))"), 404, "not_found")
        expectError(try HTTP.send("POST", "\(url)/v1/txs", body: Data("{".utf8), contentType: "application/json"), 400, "malformed_request")
        expectError(try HTTP.post("\(url)/v1/txs", json: ["tx": "00ff"]), 400, "malformed_transaction")
        expectError(try HTTP.send("POST", "\(url)/v1/txs", body: Data(count: 2 << 20), contentType: "application/octet-stream"),
                    413, "body_too_large")

        func transfer(_ amount: UInt64, nonce: UInt64, chain: String = "apinet") -> SignedTransaction {
            Transaction(sender: alice.publicKey, nonce: nonce, fee: 1_000, body: .transfer(to: SigningKey().publicKey, amount: amount))
                .signed(by: alice, chainID: chain)
        }
        expectError(try HTTP.post("\(url)/v1/txs", json: transfer(1, nonce: 0, chain: "other").submission), 422, "invalid_signature")
        expectError(try HTTP.post("\(url)/v1/txs", json: transfer(11 * OPEN.atomicUnitsPerOPEN, nonce: 0).submission), 422, "insufficient_funds")

        let good = transfer(OPEN.atomicUnitsPerOPEN, nonce: 0)
        let accepted = try HTTP.post("\(url)/v1/txs", json: good.submission)
        #expect(accepted.status == 202 && accepted.json["hash"] as? String == good.hash.hex)
        // Behind a missing nonce too, a fee below the chain's minimum is refused.
        let cheap = Transaction(sender: alice.publicKey, nonce: 4, fee: 0, body: .transfer(to: SigningKey().publicKey, amount: 1))
            .signed(by: alice, chainID: "apinet")
        expectError(try HTTP.post("\(url)/v1/txs", json: cheap.submission), 422, "fee_too_low")
        // A transaction waiting behind a missing nonce stays pending: sending it again is a conflict.
        let waiting = transfer(1, nonce: 5)
        #expect(try HTTP.post("\(url)/v1/txs", json: waiting.submission).status == 202)
        expectError(try HTTP.post("\(url)/v1/txs", json: waiting.submission), 409, "already_known")
        // Raw bytes are accepted too.
        let raw = transfer(1, nonce: 1)
        let rawAnswer = try HTTP.send("POST", "\(url)/v1/txs", body: Data(raw.canonicalBytes), contentType: "application/octet-stream")
        #expect(rawAnswer.status == 202)

        var committed = false
        for _ in 0..<200 where !committed {
            committed = try HTTP.get("\(url)/v1/txs/\(raw.hash.hex)").json["status"] as? String == "committed"
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(committed)
        expectError(try HTTP.post("\(url)/v1/txs", json: good.submission), 409, "wrong_nonce")

        let metrics = try HTTP.get("\(url)/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200 && text.contains("tributary_block_height ") && text.contains("tributary_transactions_committed_total 2"))
        #expect(node.stop() == 0)
    }

    /// `init --genesis` joins an existing chain: the genesis copied, a validator key made in the
    /// home unless given, and options that describe a new chain refused.
    @Test func initWithAGenesisJoinsItsChain() throws {
        let directory = Tributary.temporaryDirectory("join")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try Tributary.run(["testnet", "--validators", "1", "--out", directory + "/net"]).status == 0)
        let genesis = directory + "/net/node0/genesis.json"
        let joined = try Tributary.run(["init", "--home", directory + "/n1", "--genesis", genesis])
        #expect(joined.status == 0 && joined.stdout.contains("joins chain localnet"), "\(joined.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/n1/validator.key"))
        #expect(FileManager.default.contents(atPath: directory + "/n1/genesis.json") != nil)
        let mixed = try Tributary.run(["init", "--home", directory + "/n2", "--genesis", genesis, "--chain-id", "other"])
        #expect(mixed.status != 0 && mixed.stderr.contains("--chain-id describes a new chain"), "\(mixed.stderr)")
        let missing = try Tributary.run(["init", "--home", directory + "/n3", "--genesis", directory + "/nowhere.json"])
        #expect(missing.status != 0 && missing.stderr.contains("cannot read"), "\(missing.stderr)")
    }
}
