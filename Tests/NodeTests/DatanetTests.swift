import Crypto
import Foundation
import Ledger
import Testing

extension ClusterSuites {
    /// `tributary datanet create|add|export` and the document routes against a real node process
    /// (its RocksDB stores, its HTTP API), with the bad inputs they must refuse without loss.
    @Suite struct DatanetTests {
        /// A one-validator chain with an owner and a contributor funded, its node running.
        final class Chain {
            let directory = Tributary.temporaryDirectory("datanet")
            let owner: String
            let contributor: String
            var home: String { directory + "/node" }
            private(set) var node: NodeProcess

            var ownerKey: String { directory + "/owner.key" }
            var contributorKey: String { directory + "/contributor.key" }
            var url: String { node.url }

            /// `settings` are written into the node's config.json before it starts.
            init(settings: [String: Any] = [:]) throws {
                owner = try Self.newKey(directory + "/owner.key")
                contributor = try Self.newKey(directory + "/contributor.key")
                let home = directory + "/node"
                let initialized = try Tributary.run(["init", "--home", home, "--chain-id", "datanets", "--validator-key", directory + "/v.key",
                                                     "--fund", "\(owner)=1000", "--fund", "\(contributor)=1000", "--block-interval-ms", "20"])
                guard initialized.status == 0 else { throw HarnessError("init failed: \(initialized.stderr)") }
                if !settings.isEmpty {
                    let configPath = home + "/config.json"
                    var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
                    config.merge(settings) { _, new in new }
                    try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
                }
                node = try NodeProcess(home: home, port: Tributary.freePort())
            }

            /// Stops the node (SIGKILL: nothing gets a chance to flush) and starts it again on its home.
            func restart() throws {
                node.stop(signal: SIGKILL)
                node = try NodeProcess(home: home, port: Tributary.freePort())
            }

            deinit {
                node.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }

            private static func newKey(_ path: String) throws -> String {
                try Tributary.run(["keys", "new", "--out", path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }

            /// Runs `tributary datanet <arguments> --node <url>`.
            func datanet(_ arguments: [String]) throws -> Tributary.Result {
                try Tributary.run(["datanet"] + arguments + ["--node", url])
            }

            func createDatanet(_ name: String) throws -> String {
                let created = try datanet(["create", "--key", ownerKey, "--name", name, "--description", "test notes"])
                guard created.status == 0 else { throw HarnessError("datanet create failed: \(created.stderr)") }
                return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }

            func write(_ text: String, to name: String) throws -> String {
                let path = directory + "/" + name
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
                return path
            }

            func get(_ path: String) throws -> HTTP.Response { try HTTP.get(url + path) }

            func postDocument(_ datanet: String, _ body: [String: Any]) throws -> HTTP.Response {
                try HTTP.post("\(url)/v1/datanets/\(datanet)/documents", json: body)
            }

            func nonce(_ address: String) throws -> Int { try get("/v1/accounts/\(address)").json["nonce"] as! Int }

            func contributionCount(_ datanet: String) throws -> Int { try get("/v1/datanets/\(datanet)").json["contribution_count"] as! Int }
        }

        static func id(_ text: String) -> String { Digest.blake2b(Array(text.utf8)).hex }

        /// Across four validators: the registration and contributions made through one node are
        /// on every node's chain; a document's text lives only where it was posted, and any node
        /// accepts it once the chain it follows holds the contribution.
        @Test func datanetOnTheFourValidatorNetwork() throws {
            let keys = Tributary.temporaryDirectory("datanet-keys")
            defer { try? FileManager.default.removeItem(atPath: keys) }
            let owner = try Tributary.run(["keys", "new", "--out", keys + "/owner.key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let contributor = try Tributary.run(["keys", "new", "--out", keys + "/contributor.key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let cluster = try Cluster(testnetArguments: ["--fund", "\(owner)=1000", "--fund", "\(contributor)=1000"])
            let created = try Tributary.run(["datanet", "create", "--key", keys + "/owner.key", "--name", "field-notes", "--node", cluster.url(0)])
            #expect(created.status == 0, "\(created.stderr)")
            let datanet = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let texts = ["Moss grows thickest on the north side here.", "The creek runs dry by late August."]
            let jsonl = keys + "/notes.jsonl"
            try texts.map { try Self.jsonLine(["text": $0]) }.joined(separator: "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
            let added = try Tributary.run(["datanet", "add", "--datanet", datanet, "--key", keys + "/contributor.key", "--jsonl", jsonl, "--node", cluster.url(1)])
            #expect(added.status == 0, "\(added.stderr)")

            // Every node lists both contributions once its chain has them; only node 1 holds the texts.
            for node in 0..<4 {
                try cluster.waitUntil("node \(node) to list the contributions", timeoutSeconds: 20) {
                    (try HTTP.get("\(cluster.url(node))/v1/datanets/\(datanet)/documents").json["documents"] as? [[String: Any]])?.count == 2
                }
                let listed = try HTTP.get("\(cluster.url(node))/v1/datanets/\(datanet)/documents").json["documents"] as! [[String: Any]]
                #expect(listed.allSatisfy { $0["contributor"] as? String == contributor && $0["stored"] as? Bool == (node == 1) })
            }
            let missing = try HTTP.get("\(cluster.url(3))/v1/documents/\(Self.id(texts[0]))")
            #expect(missing.status == 404)
            let posted = try HTTP.post("\(cluster.url(3))/v1/datanets/\(datanet)/documents", json: ["text": texts[0]])
            #expect(posted.status == 201, "\(String(decoding: posted.body, as: UTF8.self))")
            #expect(try HTTP.get("\(cluster.url(3))/v1/documents/\(Self.id(texts[0]))").json["text"] as? String == texts[0])
            let never = try HTTP.post("\(cluster.url(3))/v1/datanets/\(datanet)/documents", json: ["text": "Never contributed."])
            #expect(never.status == 422)

            let out = keys + "/export.jsonl"
            let exported = try Tributary.run(["datanet", "export", "--datanet", datanet, "--out", out, "--node", cluster.url(1)])
            #expect(exported.status == 0, "\(exported.stderr)")
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            let exportedTexts = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.map { $0["text"] as! String }
            #expect(Set(exportedTexts) == Set(texts))
        }

        @Test func createAddExportRoundTrip() throws {
            let chain = try Chain()
            let datanet = try chain.createDatanet("medical-notes")
            #expect(Digest(hex: datanet) != nil, "\(datanet)")
            #expect(try chain.get("/v1/datanets/\(datanet)").json["name"] as? String == "medical-notes")

            let note = "Aspirin thins the blood.\n"
            let added = try chain.datanet(["add", "--datanet", datanet, "--key", chain.contributorKey, "--file", try chain.write(note, to: "note.txt")])
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.stdout.contains("\(Self.id(note)) contributed at height"), "\(added.stdout)")

            let unicode = "Ibuprofen, é and 𝄞: \"quoted\"\n\ttabbed / slashed"
            // The text of a prompt/completion document is its canonical JSON (docs/datanets.md).
            let pairText = "{\"completion\":\" 4\",\"prompt\":\"Q: what is \\\"2+2\\\"?\\n\"}"
            let lines = [
                try Self.jsonLine(["text": "Fever above 39C needs care.", "contributor": chain.contributor]),
                "",
                try Self.jsonLine(["text": unicode, "source": "ignored"]),
                try Self.jsonLine(["prompt": "Q: what is \"2+2\"?\n", "completion": " 4"]),
            ]
            let jsonl = try chain.write(lines.joined(separator: "\n") + "\n", to: "notes.jsonl")
            let addedFile = try chain.datanet(["add", "--datanet", datanet, "--key", chain.contributorKey, "--jsonl", jsonl])
            #expect(addedFile.status == 0, "\(addedFile.stderr)")
            let texts = [note, "Fever above 39C needs care.", unicode, pairText]
            let ids = texts.map(Self.id).sorted()
            #expect(try chain.contributionCount(datanet) == 4)

            // Paged listing: ids in order, contributors from the chain, all stored.
            var listed: [[String: Any]] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try chain.get("/v1/datanets/\(datanet)/documents?limit=3" + (cursor.map { "&after=\($0)" } ?? "")).json
                listed += page["documents"] as! [[String: Any]]
                cursor = page["next"] as? String
                pages += 1
                #expect(page["next"] != nil, "next is always present, null at the end")
            } while cursor != nil && pages < 10
            #expect(pages == 2)
            #expect(listed.map { $0["id"] as! String } == ids)
            #expect(listed.allSatisfy { $0["contributor"] as? String == chain.contributor && $0["stored"] as? Bool == true })
            #expect(listed.allSatisfy { ($0["height"] as? Int ?? 0) > 0 })
            #expect(Set(listed.map { $0["size_bytes"] as! Int }) == Set(texts.map(\.utf8.count)))

            // One document, and the prompt/completion document's fields.
            let pair = try chain.get("/v1/documents/\(Self.id(pairText))").json
            #expect(pair["text"] as? String == pairText && pair["prompt"] as? String == "Q: what is \"2+2\"?\n" && pair["completion"] as? String == " 4")
            #expect(pair["datanet"] as? String == datanet && pair["contributor"] as? String == chain.contributor)
            let one = try chain.get("/v1/datanets/\(datanet)/documents/\(Self.id(note))").json
            #expect(one["stored"] as? Bool == true && one["datanet"] as? String == datanet)

            // Adding the same file again submits nothing.
            let nonce = try chain.nonce(chain.contributor)
            let again = try chain.datanet(["add", "--datanet", datanet, "--key", chain.contributorKey, "--jsonl", jsonl])
            #expect(again.status == 0 && again.stdout.contains("3 already there"), "\(again.stdout) \(again.stderr)")
            #expect(try chain.nonce(chain.contributor) == nonce && chain.contributionCount(datanet) == 4)

            // Export: every document with its contributor, in id order, losslessly.
            let out = chain.directory + "/export.jsonl"
            let exported = try chain.datanet(["export", "--datanet", datanet, "--out", out])
            #expect(exported.status == 0, "\(exported.stderr)")
            let exportedLines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(exportedLines.count == 5 && exportedLines.last == "")
            let objects = try exportedLines.dropLast().map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            #expect(objects.allSatisfy { $0["contributor"] as? String == chain.contributor })
            let exportedTexts = objects.map { object in
                (object["text"] as? String) ?? "{\"completion\":\(Self.quoted(object["completion"]))," + "\"prompt\":\(Self.quoted(object["prompt"]))}"
            }
            #expect(exportedTexts.map(Self.id) == ids)
            #expect(objects.contains { $0["prompt"] as? String == "Q: what is \"2+2\"?\n" && $0["completion"] as? String == " 4" && $0["text"] == nil })
            #expect(objects.contains { $0["text"] as? String == unicode })
            #expect(!FileManager.default.fileExists(atPath: out + ".partial"))

            // The texts outlive the process (synced writes).
            try chain.restart()
            #expect(try chain.get("/v1/documents/\(Self.id(note))").json["text"] as? String == note)
            #expect(try chain.get("/v1/datanets/\(datanet)/documents").json["documents"].map { ($0 as! [[String: Any]]).count } == 4)
        }

        @Test func badInputIsRefusedAndLosesNothing() throws {
            let chain = try Chain(settings: ["document_bytes_max": 1024])
            let datanet = try chain.createDatanet("refusals")
            let unknown = String(repeating: "1", count: 64)
            func expectError(_ response: HTTP.Response, _ status: Int, _ code: String) {
                #expect(response.status == status && response.json["error"] as? String == code, "\(response.status) \(response.json)")
                #expect(response.json["message"] is String)
            }

            // Unknown and malformed hashes and datanets.
            expectError(try chain.get("/v1/documents/\(String(repeating: "0", count: 64))"), 404, "not_found")
            expectError(try chain.get("/v1/documents/xyz"), 400, "malformed_hash")
            expectError(try chain.get("/v1/datanets/\(unknown)/documents"), 404, "not_found")
            expectError(try chain.get("/v1/datanets/nothex/documents"), 400, "malformed_id")
            expectError(try chain.get("/v1/datanets/\(datanet)/documents?after=zz"), 400, "malformed_cursor")
            expectError(try chain.get("/v1/datanets/\(datanet)/documents?limit=100000"), 400, "malformed_limit")
            expectError(try chain.postDocument(unknown, ["text": "anything"]), 404, "not_found")
            expectError(try HTTP.send("DELETE", "\(chain.url)/v1/documents/\(unknown)"), 405, "method_not_allowed")

            // Malformed bodies.
            let documents = "\(chain.url)/v1/datanets/\(datanet)/documents"
            expectError(try HTTP.send("POST", documents, body: Data("{\"text\":".utf8), contentType: "application/json"), 400, "malformed_request")
            expectError(try chain.postDocument(datanet, ["txt": "typo"]), 400, "malformed_request")
            expectError(try chain.postDocument(datanet, ["text": ""]), 400, "malformed_request")
            expectError(try HTTP.send("POST", documents, body: Data([0xFF, 0xFE]), contentType: "text/plain"), 400, "malformed_request")

            // Text whose hash was never contributed.
            let stranger = "never contributed on chain"
            expectError(try chain.postDocument(datanet, ["text": stranger]), 422, "not_contributed")
            expectError(try chain.get("/v1/documents/\(Self.id(stranger))"), 404, "not_found")

            // A document over document_bytes_max, contributed on chain directly: refused, not stored.
            let big = String(repeating: "x", count: 2_000)
            let bigPath = try chain.write(big, to: "big.txt")
            let contributed = try Tributary.run(["tx", "contribute", "--key", chain.contributorKey, "--datanet", datanet, "--file", bigPath, "--node", chain.url])
            #expect(contributed.status == 0, "\(contributed.stderr)")
            expectError(try chain.postDocument(datanet, ["text": big]), 413, "document_too_large")
            expectError(try chain.get("/v1/documents/\(Self.id(big))"), 404, "not_found")
            #expect(try chain.get("/v1/datanets/\(datanet)/documents/\(Self.id(big))").json["stored"] as? Bool == false)

            // The CLI refuses before submitting anything.
            let nonce = try chain.nonce(chain.contributor)
            let count = try chain.contributionCount(datanet)
            func expectRefused(_ arguments: [String], _ message: String) throws {
                let result = try chain.datanet(arguments)
                #expect(result.status == 1 && result.stderr.hasPrefix("error: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
                #expect(result.stdout.isEmpty, "\(result.stdout)")
                #expect(try chain.nonce(chain.contributor) == nonce && chain.contributionCount(datanet) == count)
            }
            let add = ["add", "--datanet", datanet, "--key", chain.contributorKey]
            try expectRefused(add + ["--file", bigPath], "document_bytes_max")
            let good = try Self.jsonLine(["text": "a good line"])
            for (lines, message) in [
                ([good, good, "{\"text\": \"unterminated"], "malformed.jsonl line 3: not valid JSON"),
                ([good, try Self.jsonLine(["text": "b", "contributor": "12ab"])], "malformed.jsonl line 2: \"contributor\" must be a 64-hex address"),
                ([try Self.jsonLine(["contributor": chain.contributor])], "malformed.jsonl line 1: missing \"text\""),
                ([good, try Self.jsonLine(["text": "c", "contributor": chain.owner])], "malformed.jsonl line 2: contributor \(chain.owner) is not the key's address"),
                ([good, try Self.jsonLine(["text": big])], "malformed.jsonl line 2: the document is 2000 bytes"),
            ] {
                try expectRefused(add + ["--jsonl", try chain.write(lines.joined(separator: "\n"), to: "malformed.jsonl")], message)
            }
            try expectRefused(["add", "--datanet", unknown, "--key", chain.contributorKey, "--file", try chain.write("fine", to: "fine.txt")], "unknown datanet \(unknown)")

            // Export refuses while a committed document's text is missing here, leaving --out alone.
            #expect(try chain.datanet(add + ["--file", try chain.write("kept", to: "kept.txt")]).status == 0)
            let out = chain.directory + "/export.jsonl"
            let refused = try chain.datanet(["export", "--datanet", datanet, "--out", out])
            #expect(refused.status == 1 && refused.stderr.contains("1 of 2 committed documents have no text") && refused.stderr.contains(Self.id(big)), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: out + ".partial"))
            let skipped = try chain.datanet(["export", "--datanet", datanet, "--out", out, "--skip-missing"])
            #expect(skipped.status == 0, "\(skipped.stderr)")
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "{\"contributor\":\"\(chain.contributor)\",\"text\":\"kept\"}\n")
            let exportUnknown = try chain.datanet(["export", "--datanet", unknown, "--out", out + ".other"])
            #expect(exportUnknown.status == 1 && exportUnknown.stderr.contains("unknown datanet"))
        }

        /// One JSON Lines line for `object`.
        static func jsonLine(_ object: [String: Any]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }

        /// A JSON string as canonical JSON writes it (the test's strings need only these escapes).
        static func quoted(_ value: Any?) -> String {
            let text = value as! String
            return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
    }
}
