import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Ledger

/// Runs the real `tributary` executable for end-to-end tests: CLI invocations, and node
/// processes that can be started, killed with any signal and restarted.
enum Tributary {
    /// `$TRIBUTARY_BIN`, else the `tributary` built next to this test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["TRIBUTARY_BIN"] { return path }
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("tributary").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        fatalError("tributary executable not found next to \(directory.path); build it first or set TRIBUTARY_BIN")
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `tributary arguments…` to completion (in `environment`, by default this process's).
    static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A free TCP port on 127.0.0.1 (bound once by the kernel's choice, then released).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The first of `count` consecutive free TCP ports on 127.0.0.1 (probed by binding each),
    /// below Linux's ephemeral range (32768–60999), where outgoing connections could take them
    /// between the probe and the node's bind.
    static func freePortRange(_ count: Int) -> UInt16 {
        var random = SystemRandomNumberGenerator()
        while true {
            let first = UInt16.random(in: 10_000...32_000, using: &random)
            if (0..<UInt16(count)).allSatisfy({ isFree(first + $0) }) { return first }
        }
    }

    private static func isFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func temporaryDirectory(_ label: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A `tributary start` process.
final class NodeProcess: @unchecked Sendable {
    let home: String
    let port: UInt16
    private let process = Process()
    let logPath: String

    var url: String { "http://127.0.0.1:\(port)" }

    /// Starts the node and waits until its HTTP API answers. Peers connect on `p2pAddress`
    /// (by default a free loopback port; nil keeps the home's config).
    init(home: String, port: UInt16, p2pAddress: String? = "127.0.0.1:\(Tributary.freePort())", extraArguments: [String] = []) throws {
        self.home = home
        self.port = port
        logPath = home + "/node-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Tributary.binary)
        process.arguments = ["start", "--home", home, "--http-address", "127.0.0.1:\(port)"]
            + (p2pAddress.map { ["--p2p-address", $0] } ?? []) + extraArguments
        let log = FileHandle(forWritingAtPath: logPath)!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { throw HarnessError("node exited at start: \(self.log)") }
            if (try? HTTP.get("\(url)/v1/status")) != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("node did not answer within 20 s: \(self.log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    /// Sends `signal` and waits for the process to end; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGINT) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { stop(signal: SIGKILL) }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Blocking HTTP for tests, on URLSession.
enum HTTP {
    struct Response {
        let status: Int
        let body: Data
        /// Header names lowercased.
        var headers: [String: String] = [:]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
    }

    static func get(_ url: String) throws -> Response { try send("GET", url) }

    static func post(_ url: String, json: [String: Any]) throws -> Response {
        try send("POST", url, body: try JSONSerialization.data(withJSONObject: json), contentType: "application/json")
    }

    static func send(_ method: String, _ url: String, body: Data? = nil, contentType: String? = nil, accept: String? = nil,
                     headers: [String: String] = [:], timeoutSeconds: Double = 10) throws -> Response {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = timeoutSeconds
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.set(data: data, response: response as? HTTPURLResponse, error: error)
            done.signal()
        }.resume()
        done.wait()
        return try box.get()
    }

    private final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Swift.Result<Response, Error>?

        func set(data: Data?, response: HTTPURLResponse?, error: Error?) {
            lock.withLock {
                if let error { result = .failure(error) } else {
                    var headers: [String: String] = [:]
                    for (name, value) in response?.allHeaderFields ?? [:] { headers[String(describing: name).lowercased()] = String(describing: value) }
                    result = .success(Response(status: response?.statusCode ?? 0, body: data ?? Data(), headers: headers))
                }
            }
        }

        func get() throws -> Response { try lock.withLock { try result!.get() } }
    }
}

extension SignedTransaction {
    /// The `POST /v1/txs` body for this transaction.
    var submission: [String: Any] { ["tx": Hex.encode(canonicalBytes)] }
}
