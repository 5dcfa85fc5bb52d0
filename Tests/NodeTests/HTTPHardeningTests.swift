import Foundation
import Testing

/// The HTTP server against slow and greedy clients on a real node: headers and whole requests
/// that arrive too slowly close their connections, and completions cannot hold the
/// connections the chain API needs.
@Suite(.serialized) struct HTTPHardeningTests {
    /// A client trickling its headers, or its body, is cut off at the deadline; a prompt
    /// client on the same node is answered meanwhile, and an idle keep-alive connection is
    /// closed at the header deadline too.
    @Test func slowClientsAreCutOffAtTheDeadlines() throws {
        let (directory, home) = try ServingTests.home("http-deadlines", settings: ["http_header_timeout_ms": 500, "http_request_timeout_ms": 1_500])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort())
        let port = UInt16(node.url.split(separator: ":").last!)!

        let headers = try HostileClient(port: port)
        headers.send(Array("GET /v1/status HTTP/1.1\r\nHost: x\r\n".utf8))  // never ends its headers
        let body = try HostileClient(port: port)
        body.send(Array("POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".utf8))
        let start = Date()
        // A client that keeps sending a byte is never idle, and still loses its connection.
        var trickled = 0
        while Date().timeIntervalSince(start) < 0.4 {
            headers.send(Array("X".utf8))
            body.send(Array(" ".utf8))
            trickled += 1
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try HTTP.get(node.url + "/v1/status").status == 200)
        #expect(headers.isClosedByNode(timeoutSeconds: 5), "trickled headers kept their connection")
        let headersCut = Date().timeIntervalSince(start)
        #expect(headersCut >= 0.5 && headersCut < 2, "headers cut after \(headersCut) s")
        #expect(body.isClosedByNode(timeoutSeconds: 5), "a trickled body kept its connection")
        let bodyCut = Date().timeIntervalSince(start)
        #expect(bodyCut >= 1.5 && bodyCut < 3.5, "body cut after \(bodyCut) s")

        // A complete request is answered; its connection then waits for the next one only as
        // long as the header deadline.
        let polite = try HostileClient(port: port)
        polite.send(Array("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let answer = try #require(polite.receive(12, timeoutSeconds: 5))
        #expect(String(decoding: answer, as: UTF8.self) == "HTTP/1.1 200")
        let answered = Date()
        #expect(polite.isClosedByNode(timeoutSeconds: 5))
        #expect(Date().timeIntervalSince(answered) >= 0.4)
        #expect(node.stop(signal: SIGINT) == 0)
    }

    /// With room for one completion, a second one gets 503 `busy` while the first streams,
    /// and the chain API keeps answering; once the stream ends, completions are taken again.
    @Test func completionsKeepToTheirConnectionBudget() throws {
        let (directory, home) = try ServingTests.home("http-budget", settings: ["http_inference_connections_max": 1])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NodeProcess(home: home, port: Tributary.freePort(), extraArguments: ["--serve-model", "--inference-threads", "2"])
        let port = UInt16(node.url.split(separator: ":").last!)!
        let long = try JSONSerialization.data(withJSONObject: ["model": ServingTests.model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 400, "temperature": 0, "stream": true])
        let streaming = try HostileClient(port: port)
        streaming.sendPost("/v1/completions", json: long)
        _ = try #require(streaming.receive(400, timeoutSeconds: 30), "no streamed answer")

        let refused = try ServingTests.completion(node, "Hello", maxTokens: 2)
        #expect(refused.status == 503 && (refused.json["error"] as? [String: Any])?["code"] as? String == "busy" && refused.headers["retry-after"] == "1")
        #expect(try HTTP.get(node.url + "/v1/status").status == 200)
        #expect(try HTTP.post(node.url + "/v1/txs", json: ["tx": "00"]).status == 400)  // reached the chain API

        streaming.reset()  // the client leaves: its generation is cancelled and its connection freed
        var status = 0
        let deadline = Date().addingTimeInterval(20)
        while status != 200, Date() < deadline {
            status = try ServingTests.completion(node, "Hello", maxTokens: 2).status
        }
        #expect(status == 200)
        #expect(node.stop(signal: SIGINT) == 0)
    }
}
