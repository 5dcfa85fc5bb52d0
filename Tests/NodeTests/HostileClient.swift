import Crypto
import Foundation
import Gossip

/// A raw TCP peer for tests that speaks as much of the protocol as it is told to, and then
/// misbehaves: garbage, another chain, oversize or forged frames, bad messages, or never
/// reading. Blocking sockets with receive timeouts.
final class HostileClient {
    let descriptor: Int32
    let port: UInt16
    let nodeKey: SigningKey
    private var cipher: FrameCipher?
    private var received: [UInt8] = []

    /// Connects to 127.0.0.1:`port` as `nodeKey`, from `sourceHost` (an IPv4 address of this
    /// machine) when given; a small receive buffer makes a client that stops reading fill the
    /// node's side quickly.
    init(port: UInt16, nodeKey: SigningKey = SigningKey(), receiveBufferBytes: Int32? = nil, sourceHost: String? = nil) throws {
        self.nodeKey = nodeKey
        self.port = port
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferBytes {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let sourceHost {
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_addr.s_addr = inet_addr(sourceHost)
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw HarnessError("cannot bind to \(sourceHost): \(String(cString: strerror(errno)))") }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw HarnessError("cannot connect to port \(port): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// An IPv4 address of this machine outside loopback (a CI machine has one: it reaches
    /// Debian's servers), for connections the node must not treat as local.
    static func nonLoopbackIPv4() throws -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw HarnessError("getifaddrs: \(String(cString: strerror(errno)))") }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr, Int32(address.pointee.sa_family) == AF_INET else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.hasPrefix("127.") { return text }
        }
        throw HarnessError("this machine has no IPv4 address outside loopback")
    }

    /// Closes with a reset (SO_LINGER 0): the node's next writes to this peer fail.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Sends an HTTP/1.1 JSON POST of `body` to `path` with `headers`, for answers a test
    /// reads partly or abandons.
    func sendPost(_ path: String, json body: Data, headers: [String: String] = [:]) {
        let lines = ["POST \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Content-Type: application/json", "Content-Length: \(body.count)"]
            + headers.map { "\($0.key): \($0.value)" }
        send(Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + Array(body))
    }

    /// The first `count` bytes the node sends (as raw bytes: an HTTP answer, say); nil if the
    /// connection closed or timed out first.
    func receive(_ count: Int, timeoutSeconds: Double = 5) -> [UInt8]? {
        guard fill(count, timeoutSeconds: timeoutSeconds) else { return nil }
        defer { received.removeFirst(count) }
        return Array(received.prefix(count))
    }

    /// Reads until `count` bytes are buffered; false if the connection closed or timed out.
    private func fill(_ count: Int, timeoutSeconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while received.count < count && Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n == 0 { return false }
            if n > 0 { received += buffer[0..<n] }
        }
        return received.count >= count
    }

    /// Runs the handshake as a dialer; `chainID` may differ from the node's.
    func handshake(chainID: String, expecting node: NodeID? = nil) throws {
        let handshake = Handshake(role: .dialer(expected: node), nodeKey: nodeKey, chainID: chainID)
        send(handshake.hello.bytes)
        var parsed: (hello: Hello, consumed: Int)?
        while parsed == nil {
            guard fill(received.count + 1) else { throw HarnessError("the node closed the connection during the handshake") }
            parsed = try Hello.parse(received[...])
        }
        received.removeFirst(parsed!.consumed)
        let session = try handshake.accept(parsed!.hello)
        cipher = session.cipher
        sendFrame(session.auth)
        guard let auth = readFrame() else { throw HarnessError("the node sent no auth frame") }
        _ = try handshake.verifyPeer(auth: auth, transcript: session.transcript)
    }

    /// Sends `plaintext` as the next encrypted frame; returns the bytes on the wire.
    @discardableResult
    func sendFrame(_ plaintext: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        cipher!.seal(plaintext, appendingTo: &frame)
        send(frame)
        return frame
    }

    /// Sends `message` on `channel` as one packet (the wire layout: channel, flags = last, bytes).
    func send(_ message: WireMessage, on channel: Channel) {
        sendFrame([channel.rawValue, 1] + message.canonicalBytes)
    }

    func readFrame() -> [UInt8]? {
        guard fill(4) else { return nil }
        let length = Int(FrameCipher.length(received.prefix(4)))
        guard fill(4 + length) else { return nil }
        let frame = Array(received[4..<4 + length])
        received.removeFirst(4 + length)
        return frame.withUnsafeBytes { cipher!.open($0, length: UInt32(length)) }
    }

    /// Whether the node closed the connection within `timeoutSeconds` (whatever it sent first
    /// is read and dropped).
    func isClosedByNode(timeoutSeconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return true }
        }
        return false
    }
}
