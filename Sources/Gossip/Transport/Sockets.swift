import Foundation

/// Thin wrappers over the POSIX socket calls the transport makes, with errors as text.
enum Sockets {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ what: String, _ code: Int32 = errno) { description = "\(what): \(String(cString: strerror(code)))" }
        init(message: String) { description = message }
    }

    /// A resolved socket address.
    struct Address: @unchecked Sendable {
        var storage = sockaddr_storage()
        var length: socklen_t = 0

        var family: Int32 { Int32(storage.ss_family) }

        private static func text(_ characters: [CChar]) -> String {
            String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        /// The numeric host and port, or nil if the address cannot be printed.
        private var numeric: (host: String, port: String)? {
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
            var copy = storage
            let result = withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
                }
            }
            return result == 0 ? (Self.text(host), Self.text(service)) : nil
        }

        /// The numeric host (no brackets for IPv6), or `?`.
        var host: String { numeric?.host ?? "?" }

        /// `host:port` (`[v6]:port` for IPv6).
        var description: String {
            guard let (host, port) = numeric else { return "?" }
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }

        /// Whether the address is on the loopback interface: 127.0.0.0/8, ::1, or IPv4 mapped
        /// into IPv6 from 127.0.0.0/8.
        var isLoopback: Bool {
            let host = host
            return host == "::1" || host.hasPrefix("127.") || host.hasPrefix("::ffff:127.")
        }
    }

    /// Resolves `host` (a name or a numeric address) for a TCP socket; blocking (DNS).
    static func resolve(host: String, port: UInt16, passive: Bool = false) throws(Failure) -> [Address] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let result = getaddrinfo(host, String(port), &hints, &list)
        guard result == 0, let first = list else {
            throw Failure(message: "cannot resolve \(host): \(String(cString: gai_strerror(result)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var address = Address()
            withUnsafeMutableBytes(of: &address.storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: current.pointee.ai_addr, count: Int(current.pointee.ai_addrlen)))
            }
            address.length = current.pointee.ai_addrlen
            addresses.append(address)
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// A non-blocking listening socket on `host:port`.
    static func listen(host: String, port: UInt16) throws(Failure) -> (descriptor: Int32, address: Address) {
        var lastError = Failure(message: "no address for \(host)")
        for address in try resolve(host: host, port: port, passive: true) {
            let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { lastError = Failure("socket"); continue }
            var on: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            var copy = address
            let bound = withUnsafePointer(to: &copy.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, address.length) }
            }
            guard bound == 0, Glibc.listen(descriptor, 128) == 0 else {
                lastError = Failure("cannot listen on \(host):\(port)")
                close(descriptor)
                continue
            }
            return (descriptor, local(descriptor) ?? address)
        }
        throw lastError
    }

    /// Starts a non-blocking connect; the socket reports writable when it completes.
    static func connect(to address: Address) throws(Failure) -> Int32 {
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("socket") }
        setNoDelay(descriptor)
        var copy = address
        let result = withUnsafePointer(to: &copy.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, address.length) }
        }
        guard result == 0 || errno == EINPROGRESS else {
            let failure = Failure("cannot connect to \(address.description)")
            close(descriptor)
            throw failure
        }
        return descriptor
    }

    /// The error a non-blocking connect ended with (0 when it succeeded).
    static func pendingError(_ descriptor: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &length)
        return code
    }

    /// Accepts one pending connection, non-blocking; nil when none is waiting.
    static func accept(_ listener: Int32) -> (descriptor: Int32, address: Address)? {
        var address = Address()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let descriptor = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.accept(listener, $0, &address.length)
            }
        }
        guard descriptor >= 0 else { return nil }
        makeNonBlocking(descriptor)
        setNoDelay(descriptor)
        return (descriptor, address)
    }

    static func local(_ descriptor: Int32) -> Address? {
        var address = Address()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &address.length) }
        }
        return result == 0 ? address : nil
    }

    static func peer(_ descriptor: Int32) -> Address? {
        var address = Address()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &address.length) }
        }
        return result == 0 ? address : nil
    }

    /// Sets `O_NONBLOCK` and `FD_CLOEXEC` (for descriptors made without the flags).
    static func makeNonBlocking(_ descriptor: Int32) {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
    }

    /// Votes are small and must not wait for Nagle's algorithm.
    private static func setNoDelay(_ descriptor: Int32) {
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}
