import Foundation
import Testing

/// The OpenAI-style API of a real node process serving the default model.
@Suite(.serialized) struct ServingTests {
    static let model = "SmolLM2-135M-Instruct.Q4_1"

    /// A node home initialised in a fresh directory, with `settings` merged into its config.
    static func home(_ label: String, settings: [String: Any] = [:]) throws -> (directory: String, home: String) {
        let directory = Tributary.temporaryDirectory(label)
        let home = directory + "/n0"
        let initialized = try Tributary.run(["init", "--home", home, "--chain-id", "serving", "--validator-key", directory + "/n0.key"])
        guard initialized.status == 0 else { throw HarnessError(initialized.stderr) }
        let configPath = home + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        config.merge(settings) { _, new in new }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        return (directory, home)
    }

    static func completion(_ node: NodeProcess, _ prompt: String, maxTokens: Int, stream: Bool = false) throws -> HTTP.Response {
        try HTTP.post("\(node.url)/v1/completions", json: [
            "model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0, "stream": stream,
        ])
    }

    /// `tributary_serving_sequences_running` of `node`'s metrics.
    static func sequencesRunning(_ node: NodeProcess) throws -> Int {
        let metrics = String(decoding: try HTTP.get(node.url + "/metrics").body, as: UTF8.self)
        let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("tributary_serving_sequences_running ") })
        return try #require(Int(line.split(separator: " ")[1]))
    }

    /// The `data:` payloads of a server-sent event stream.
    static func events(_ body: Data) -> [String] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n")
            .filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }

    @Test func completionsMatchTheCommandLineAndStream() throws {
        let (directory, home) = try Self.home("serving")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])

        let models = try HTTP.get("\(node.url)/v1/models").json["data"] as? [[String: Any]]
        #expect(models?.first?["id"] as? String == Self.model)

        let prompts = ["The capital of France is", "def fibonacci(n):", "Once upon a time", "1, 2, 3, 4,", "Water boils at", "The best way to learn"]
        var expected: [String] = []
        for prompt in prompts {
            let local = try Tributary.run(["generate", "--prompt", prompt, "--max-tokens", "12", "--temperature", "0", "--json", "--threads", "2"])
            let object = try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as! [String: Any]
            expected.append(object["text"] as! String)
        }

        // One at a time, whole answers.
        let answer = try Self.completion(node, prompts[0], maxTokens: 12)
        #expect(answer.status == 200)
        let choice = (answer.json["choices"] as? [[String: Any]])?.first
        #expect(choice?["text"] as? String == expected[0])
        #expect(choice?["finish_reason"] as? String == "length")
        let usage = answer.json["usage"] as? [String: Any]
        #expect(usage?["completion_tokens"] as? Int == 12 && usage?["total_tokens"] as? Int == 12 + (usage?["prompt_tokens"] as? Int ?? -100))

        // All at once: they share decode steps, joining and leaving the batch, and each gets
        // exactly its own greedy continuation.
        let texts = LockedBox([String?](repeating: nil, count: prompts.count))
        concurrently(prompts.count) { index in
            let response = try? Self.completion(node, prompts[index], maxTokens: min(12, 4 + 2 * index))
            let text = ((response?.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
            texts.update { $0[index] = text }
        }
        for (index, text) in texts.value.enumerated() {
            let tokensAsked = min(12, 4 + 2 * index)
            #expect(text != nil && expected[index].hasPrefix(text!) && !text!.isEmpty, "prompt \(index): \(text ?? "nil") vs \(expected[index]) (\(tokensAsked) tokens)")
        }

        // Streamed: the pieces add up to the same text; the last chunk has the usage.
        let streamed = try Self.completion(node, prompts[1], maxTokens: 12, stream: true)
        let events = Self.events(streamed.body)
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let text = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["text"] as? String) }.joined()
        #expect(text == expected[1])
        #expect((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int == 12)

        // Chat through the model's template, streamed: the first delta carries the role.
        let chat = try HTTP.post("\(node.url)/v1/chat/completions", json: [
            "model": Self.model, "messages": [["role": "user", "content": "What is 2 + 2?"]], "max_tokens": 8, "temperature": 0, "stream": true,
        ])
        let chatChunks = Self.events(chat.body).dropLast().map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let firstDelta = (chatChunks.first?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
        #expect(firstDelta?["role"] as? String == "assistant")
        #expect(chatChunks.last?["object"] as? String == "chat.completion.chunk")

        #expect(node.stop() == 0)
    }

    /// The fixture adapters (PEFT directories stored whole, under 10 MB each).
    static func fixtureAdapter(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("InferenceTests/Fixtures/adapters/\(name)").path
    }

    /// SIGINT while a long answer is being generated: generation stops first, so the node
    /// exits at once instead of after the answer's last token (the connection thread of a
    /// whole-body answer waits for its generation, and the HTTP server waits for it).
    @Test func shutdownDoesNotWaitForGenerations() throws {
        let (directory, home) = try Self.home("serving-shutdown")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        let port = UInt16(node.url.split(separator: ":").last!)!
        // Counting on: 2,000 tokens take far longer than the shutdown may.
        func request(stream: Bool) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["model": Self.model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 2000, "temperature": 0, "stream": stream])
        }
        let whole = try HostileClient(port: port), streamed = try HostileClient(port: port)
        whole.sendPost("/v1/completions", json: try request(stream: false))
        streamed.sendPost("/v1/completions", json: try request(stream: true))
        // Once the stream's tokens flow, the batch holds both requests.
        _ = try #require(streamed.receive(400, timeoutSeconds: 30), "no streamed answer")
        let start = Date()
        #expect(node.stop(signal: SIGINT) == 0)
        #expect(Date().timeIntervalSince(start) < 5, "the node took \(Date().timeIntervalSince(start)) s to stop")
    }

    /// A client that closes its connection while its whole-body answer is generated cancels
    /// it: the batch empties at once instead of after the answer's last token.
    @Test func aClientThatLeavesAWholeAnswerCancelsIt() throws {
        let (directory, home) = try Self.home("serving-leave")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        defer { node.stop() }
        let port = UInt16(node.url.split(separator: ":").last!)!
        func running() throws -> Int { try Self.sequencesRunning(node) }
        #expect(try running() == 0)
        // Counting on: 2,000 tokens take far longer than the wait below.
        let body = try JSONSerialization.data(withJSONObject: ["model": Self.model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 2000, "temperature": 0])
        let client = try HostileClient(port: port)
        client.sendPost("/v1/completions", json: body)
        let deadline = Date().addingTimeInterval(30)
        while try running() == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try #require(try running() == 1, "the request never ran")
        client.reset()
        let left = Date()
        while try running() > 0, Date().timeIntervalSince(left) < 10 { Thread.sleep(forTimeInterval: 0.01) }
        #expect(try running() == 0, "the generation ran on for \(Date().timeIntervalSince(left)) s after its client left")
        // The node still answers.
        #expect(try Self.completion(node, "Hello", maxTokens: 2).status == 200)
    }

    /// With an `admin_token`, adding and removing adapters needs it (the CLI sends
    /// `$TRIBUTARY_ADMIN_TOKEN`), and only its holder sees paths.
    @Test func adapterAdministrationNeedsTheAdminToken() throws {
        let (directory, home) = try Self.home("serving-admin", settings: ["admin_token": "s3cret"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        let body = try JSONSerialization.data(withJSONObject: ["path": Self.fixtureAdapter("qv-r8"), "name": "qv"])
        let anonymous = try HTTP.send("POST", node.url + "/v1/adapters", body: body, contentType: "application/json")
        let wrong = try HTTP.send("POST", node.url + "/v1/adapters", body: body, contentType: "application/json", headers: ["Authorization": "Bearer nope"])
        #expect(anonymous.status == 401 && wrong.status == 401)
        let added = try HTTP.send("POST", node.url + "/v1/adapters", body: body, contentType: "application/json", headers: ["Authorization": "Bearer s3cret"])
        #expect(added.status == 201 && added.json["name"] as? String == "qv" && added.json["path"] == nil)
        #expect(!String(decoding: added.body, as: UTF8.self).contains(Self.fixtureAdapter("qv-r8")))
        let missing = try HTTP.send("POST", node.url + "/v1/adapters", body: try JSONSerialization.data(withJSONObject: ["path": directory + "/secret/place"]),
                                    contentType: "application/json", headers: ["Authorization": "Bearer s3cret"])
        #expect(missing.status == 422 && !String(decoding: missing.body, as: UTF8.self).contains("secret/place"))
        let publicList = try HTTP.get(node.url + "/v1/adapters").json["adapters"] as? [[String: Any]]
        #expect(publicList?.count == 1 && publicList?.first?["path"] == nil)
        let id = try #require(publicList?.first?["id"] as? String)
        #expect(try HTTP.send("DELETE", node.url + "/v1/adapters/" + id).status == 401)
        // The CLI carries the token from the environment.
        var environment = ProcessInfo.processInfo.environment
        environment["TRIBUTARY_ADMIN_TOKEN"] = "s3cret"
        let removed = try Tributary.run(["adapter", "remove", "qv", "--node", node.url], environment: environment)
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect((try HTTP.get(node.url + "/v1/adapters").json["adapters"] as? [Any])?.isEmpty == true)
    }

    /// Adapters from the home's adapters/ at start and from `tributary adapter add`, served by
    /// name or id, mixed with the base, listed, and removed.
    @Test func adaptersAreServedAddedAndRemoved() throws {
        let (directory, home) = try Self.home("serving-adapters")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: home + "/adapters", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixtureAdapter("qv-r8"), toPath: home + "/adapters/qv-r8")
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])

        func expected(_ adapter: String?, _ prompt: String) throws -> String {
            let local = try Tributary.run(["generate", "--prompt", prompt, "--max-tokens", "10", "--temperature", "0", "--json", "--threads", "2"]
                + (adapter.map { ["--adapter", $0] } ?? []))
            return (try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as! [String: Any])["text"] as! String
        }
        @Sendable func served(_ model: String, _ prompt: String) throws -> (Int, String?) {
            let response = try HTTP.post("\(node.url)/v1/completions", json: ["model": model, "prompt": prompt, "max_tokens": 10, "temperature": 0])
            return (response.status, (response.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
        }

        let models = (try HTTP.get("\(node.url)/v1/models").json["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(models == ["qv-r8"])
        let prompt = "The capital of France is"
        #expect(try served("qv-r8", prompt).1 == expected(Self.fixtureAdapter("qv-r8"), prompt))

        let added = try Tributary.run(["adapter", "add", Self.fixtureAdapter("mlp-r4-rslora"), "--name", "mlp", "--node", node.url, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let id = (try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])?["id"] as? String ?? ""
        #expect(id.count == 64)
        let again = try Tributary.run(["adapter", "add", Self.fixtureAdapter("mlp-r4-rslora"), "--node", node.url])
        #expect(again.status == 1 && again.stderr.contains("already_registered"), "\(again.stderr)")
        let listed = try Tributary.run(["adapter", "list", "--node", node.url])
        #expect(listed.stdout.contains(id) && listed.stdout.contains("2 adapter(s)"), "\(listed.stdout)")

        // Base and both adapters at once, by name and by id.
        let answers = LockedBox([String: String]())
        let models3 = [Self.model, "qv-r8", id]
        concurrently(3) { index in
            let text = try? served(models3[index], prompt).1
            answers.update { $0[models3[index]] = text ?? "failed" }
        }
        #expect(answers.value[Self.model] == (try expected(nil, prompt)))
        #expect(answers.value["qv-r8"] == (try expected(Self.fixtureAdapter("qv-r8"), prompt)))
        #expect(answers.value[id] == (try expected(Self.fixtureAdapter("mlp-r4-rslora"), prompt)))

        let removed = try Tributary.run(["adapter", "remove", "mlp", "--node", node.url])
        #expect(removed.status == 0 && removed.stdout.contains(id), "\(removed.stderr)")
        #expect(try served(id, prompt).0 == 404)
        let bad = try HTTP.post("\(node.url)/v1/adapters", json: ["path": directory + "/missing"])
        #expect(bad.status == 422)

        // An adapter whose files vanish after registration fails its request without showing
        // a client where they were.
        try FileManager.default.copyItem(atPath: Self.fixtureAdapter("mlp-r4-rslora"), toPath: directory + "/vanishing")
        #expect(try Tributary.run(["adapter", "add", directory + "/vanishing", "--name", "vanishing", "--node", node.url]).status == 0)
        try FileManager.default.removeItem(atPath: directory + "/vanishing/adapter_model.safetensors")
        let failed = try HTTP.post("\(node.url)/v1/completions", json: ["model": "vanishing", "prompt": prompt, "max_tokens": 2])
        let message = String(decoding: failed.body, as: UTF8.self)
        #expect(failed.status == 503 && message.contains("<adapter>") && !message.contains(directory), "\(message)")
        #expect(node.stop() == 0)
    }

    /// A node serving with int8 activations says so in `/v1/models` and answers one request as
    /// `generate --activations int8` does; an unknown precision is a clear error on the command
    /// line and in the config.
    @Test func int8ActivationsServeAsTheCommandLine() throws {
        let (directory, home) = try Self.home("serving-int8")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let prompt = "The capital of France is"
        let local = try Tributary.run(["generate", "--prompt", prompt, "--max-tokens", "16", "--temperature", "0", "--json", "--threads", "2", "--activations", "int8"])
        #expect(local.status == 0, "\(local.stderr)")
        let expected = (try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any])?["text"] as? String
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2", "--inference-activations", "int8"])
        let models = try HTTP.get("\(node.url)/v1/models").json["data"] as? [[String: Any]]
        #expect(models?.first?["activations"] as? String == "int8")
        let answer = try Self.completion(node, prompt, maxTokens: 16)
        #expect(answer.status == 200)
        #expect((answer.json["choices"] as? [[String: Any]])?.first?["text"] as? String == expected)
        _ = node.stop()

        let wrong = try Tributary.run(["generate", "--prompt", prompt, "--max-tokens", "1", "--activations", "fp8"])
        #expect(wrong.status == 2 && wrong.stderr.contains("--activations must be 'f32' or 'int8', got 'fp8'"), "\(wrong.stderr)")
        let refused = try Tributary.run(["start", "--home", home, "--serve-model", "--inference-activations", "fp8"])
        #expect(refused.status == 2 && refused.stderr.contains("inference_activations must be 'f32' or 'int8', got 'fp8'"), "\(refused.stderr)")
        let (badDirectory, badHome) = try Self.home("serving-int8-config", settings: ["inference_activations": "int4"])
        defer { try? FileManager.default.removeItem(atPath: badDirectory) }
        let badConfig = try Tributary.run(["start", "--home", badHome])
        #expect(badConfig.status == 2 && badConfig.stderr.contains("inference_activations must be 'f32' or 'int8', got 'int4'"), "\(badConfig.stderr)")
    }

    @Test func mistakesAreClearAndAFullQueueIsBusy() throws {
        let (directory, home) = try Self.home("serving-busy", settings: ["serving_sequences_max": 1, "serving_queue_max": 1, "serving_max_tokens_max": 64])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        let cases: [([String: Any], Int, String)] = [
            (["prompt": "hi"], 400, "invalid_request"),
            (["model": "nope", "prompt": "hi"], 404, "model_not_found"),
            (["model": Self.model, "prompt": "hi", "max_tokens": 65], 400, "invalid_request"),
            (["model": Self.model, "prompt": "hi", "temperature": "hot"], 400, "invalid_request"),
            (["model": Self.model, "prompt": "hi", "n": 2], 400, "invalid_request"),
            (["model": Self.model, "prompt": ""], 400, "invalid_request"),
        ]
        for (body, status, code) in cases {
            let response = try HTTP.post("\(node.url)/v1/completions", json: body)
            #expect(response.status == status, "\(body)")
            #expect((response.json["error"] as? [String: Any])?["code"] as? String == code, "\(body)")
        }
        #expect(try HTTP.get("\(node.url)/v1/completions").status == 405)

        // One running, one waiting: the rest are refused at once with 429, and the two accepted finish.
        let statuses = LockedBox([Int](repeating: 0, count: 8))
        concurrently(8) { index in
            let status = (try? Self.completion(node, "Tell me a story number \(index)", maxTokens: 48))?.status ?? -1
            statuses.update { $0[index] = status }
        }
        #expect(statuses.value.filter { $0 == 200 }.count >= 2, "\(statuses.value)")
        #expect(statuses.value.contains(429), "\(statuses.value)")
        #expect(statuses.value.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses.value)")
        #expect(node.stop() == 0)
    }

    /// `tributary bench lora` at a small scale (its defaults write 1,000 adapters): every goal's
    /// figure is in the JSON, the accounting is exact, and the temporary directory is removed.
    @Test func loraBenchReportsEveryGoalsFigure() throws {
        let directory = Tributary.temporaryDirectory("bench-lora")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Tributary.run(["bench", "lora", "--adapters", "24", "--streams", "4", "--repeats", "1", "--no-baseline", "--json", "--directory", directory])
        #expect(result.status == 0, "\(result.stderr)")
        let figures = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])["tributary"] as? [String: Any]
        #expect(figures?["activations"] as? String == "int8" && figures?["dtype"] as? String == "F16")
        #expect(figures?["adapters"] as? Int == 24)
        #expect(figures?["stream_adapter_ranks"] as? [Int] == [8, 16, 32, 64])
        #expect(figures?["resident_over_tensor_bytes"] as? Double == 1)
        for key in ["base_tokens_per_s", "mixed_tokens_per_s", "mixed_over_base", "cold_load_rank16_page_cache_p50_ms", "cold_load_rank16_disk_p50_ms"] {
            #expect((figures?[key] as? Double ?? 0) > 0, "\(key)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}

/// Runs `body(0..<count)` each on its own thread (not a pool sized by cores, so all run at
/// once) and waits for all.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread { body(index); group.leave() }.start()
    }
    group.wait()
}

/// A value shared by concurrent test closures, guarded by a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
