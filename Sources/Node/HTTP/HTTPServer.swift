import CMicroHTTPD
import Foundation

/// An HTTP/1.1 server on libmicrohttpd, one thread per connection, that hands complete
/// requests to an `HTTPHandler`. A request declaring a body over `bodyMaxBytes` is answered
/// 413 before its body is read; a body streamed past the cap closes the connection; so does a
/// request whose headers or whole body arrive too slowly (`ConnectionDeadlines`).
final class HTTPServer: @unchecked Sendable {  // `daemon` is guarded by `lock`
    struct Limits: Sendable {
        var bodyMaxBytes = 1 << 20
        var connectionsMax: UInt32 = 256
        /// One client address cannot hold every connection thread.
        var connectionsPerAddressMax: UInt32 = 64
        /// A connection idle this long is closed.
        var connectionTimeoutSeconds: UInt32 = 60
        var connectionMemoryMaxBytes = 256 << 10
        var headerTimeoutMs = 10_000
        var requestTimeoutMs = 30_000
    }

    let address: SocketAddress
    fileprivate let handler: HTTPHandler
    fileprivate let limits: Limits
    fileprivate let deadlines: ConnectionDeadlines
    private let lock = NSLock()
    private var daemon: OpaquePointer?

    /// Starts listening on `address` (`host:port`).
    init(address: SocketAddress, limits: Limits = Limits(), handler: @escaping HTTPHandler) throws {
        self.address = address
        self.handler = handler
        self.limits = limits
        deadlines = ConnectionDeadlines(headerTimeoutMs: limits.headerTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs)
        var socketAddress = address.sockaddr
        let context = Unmanaged.passUnretained(self).toOpaque()
        let flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_THREAD_PER_CONNECTION.rawValue
            | MHD_USE_POLL.rawValue | MHD_USE_ERROR_LOG.rawValue)
        daemon = tributary_mhd_start(
            flags, &socketAddress, accessHandler, context, completedHandler, context, connectionHandler, context,
            limits.connectionMemoryMaxBytes, limits.connectionTimeoutSeconds, limits.connectionsMax,
            limits.connectionsPerAddressMax)
        guard daemon != nil else {
            deadlines.stop()
            throw CommandError("cannot listen on \(address): \(String(cString: strerror(errno))) (is another node using the port?)")
        }
    }

    /// Stops accepting and waits for connection threads to finish.
    func stop() {
        let running = lock.withLock {
            defer { daemon = nil }
            return daemon
        }
        if let running { MHD_stop_daemon(running) }
        deadlines.stop()
    }

    deinit { stop() }
}

/// Per-request state kept by libmicrohttpd between calls of the access handler.
private final class RequestState {
    var body: [UInt8] = []
}

private let accessHandler: MHD_AccessHandlerCallback = { context, connection, url, method, _, uploadData, uploadSize, requestContext in
    let server = Unmanaged<HTTPServer>.fromOpaque(context!).takeUnretainedValue()
    guard let requestContext, let connection, let uploadSize else { return MHD_Result.NO }
    // First call for a request: refuse a declared oversize body at once, else set up state;
    // the body arrives in later calls.
    guard let raw = requestContext.pointee else {
        server.deadlines.headersArrived(connection)
        if let declared = MHD_lookup_connection_value(connection, MHD_ValueKind.HEADER_KIND, "Content-Length"),
           let length = UInt64(String(cString: declared)), length > UInt64(server.limits.bodyMaxBytes) {
            return send(.error(413, "body_too_large", "request body exceeds \(server.limits.bodyMaxBytes) bytes"), on: connection)
        }
        requestContext.pointee = Unmanaged.passRetained(RequestState()).toOpaque()
        return MHD_Result.YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        // A body streamed past the cap without a declared length: drop the connection.
        guard state.body.count + uploadSize.pointee <= server.limits.bodyMaxBytes else { return MHD_Result.NO }
        if let uploadData {
            uploadData.withMemoryRebound(to: UInt8.self, capacity: uploadSize.pointee) {
                state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: uploadSize.pointee))
            }
        }
        uploadSize.pointee = 0
        return MHD_Result.YES
    }
    server.deadlines.requestArrived(connection)
    let request = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: url.map { String(cString: $0) } ?? "/",
        query: connectionValues(connection, kind: MHD_ValueKind.GET_ARGUMENT_KIND, lowercased: false),
        headers: connectionValues(connection, kind: MHD_ValueKind.HEADER_KIND, lowercased: true),
        body: state.body, clientIsLoopback: tributary_mhd_client_is_loopback(connection) != 0,
        clientLeft: { [socket = tributary_mhd_connection_fd(connection)] in peerClosed(socket) })
    return send(server.handler(request), on: connection)
}

/// Whether the peer of `socket` closed or reset the connection: a read that would not wait
/// finds its end (0) or an error, not just no data yet. Only for the connection's own thread
/// while it answers, when libmicrohttpd neither reads nor closes the socket. Bytes waiting
/// (a pipelined next request) mean the client is still there; a client that half-closes
/// after its request counts as gone, as plain HTTP/1.1 clients do not.
private func peerClosed(_ socket: Int32) -> Bool {
    guard socket >= 0 else { return false }
    var byte: UInt8 = 0
    let count = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
    if count > 0 { return false }
    if count == 0 { return true }
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
}

private let completedHandler: MHD_RequestCompletedCallback = { context, connection, requestContext, _ in
    // The answer is done: the connection may carry another request, on fresh deadlines.
    if let connection { Unmanaged<HTTPServer>.fromOpaque(context!).takeUnretainedValue().deadlines.awaitRequest(connection) }
    guard let requestContext, let raw = requestContext.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(raw).release()
    requestContext.pointee = nil
}

private let connectionHandler: MHD_NotifyConnectionCallback = { context, connection, _, event in
    guard let connection else { return }
    let deadlines = Unmanaged<HTTPServer>.fromOpaque(context!).takeUnretainedValue().deadlines
    if event == MHD_ConnectionNotificationCode.CONNECTION_NOTIFY_STARTED {
        deadlines.opened(connection, socket: tributary_mhd_connection_fd(connection))
    } else {
        deadlines.closed(connection)
    }
}

private func send(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let handle: OpaquePointer?
    if let stream = response.stream {
        // Size unknown: sent chunked; the connection thread blocks in `read` between events.
        handle = MHD_create_response_from_callback(
            UInt64.max, 4096, streamReader, Unmanaged.passRetained(stream).toOpaque(), streamReleaser)
    } else {
        handle = response.body.withUnsafeBytes { body in
            MHD_create_response_from_buffer(body.count, UnsafeMutableRawPointer(mutating: body.baseAddress), MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
        }
    }
    guard let handle else { return MHD_Result.NO }
    defer { MHD_destroy_response(handle) }
    for header in response.headers {
        _ = MHD_add_response_header(handle, header.name, header.value)
    }
    return MHD_queue_response(connection, UInt32(response.status), handle)
}

private let streamReader: MHD_ContentReaderCallback = { context, _, buffer, capacity in
    let stream = Unmanaged<HTTPBodyStream>.fromOpaque(context!).takeUnretainedValue()
    guard let buffer else { return -1 }
    let count = buffer.withMemoryRebound(to: UInt8.self, capacity: capacity) { stream.read(into: $0, capacity: capacity) }
    return count ?? -1  // MHD_CONTENT_READER_END_OF_STREAM
}

private let streamReleaser: MHD_ContentReaderFreeCallback = { context in
    let stream = Unmanaged<HTTPBodyStream>.fromOpaque(context!).takeRetainedValue()
    stream.close()
}

private final class ValueCollector {
    var values: [String: String] = [:]
    let lowercased: Bool
    init(lowercased: Bool) { self.lowercased = lowercased }
}

private func connectionValues(_ connection: OpaquePointer, kind: MHD_ValueKind, lowercased: Bool) -> [String: String] {
    let collector = ValueCollector(lowercased: lowercased)
    withExtendedLifetime(collector) {
        _ = MHD_get_connection_values(connection, kind, { context, _, key, value in
            let collector = Unmanaged<ValueCollector>.fromOpaque(context!).takeUnretainedValue()
            if let key {
                let name = String(cString: key)
                collector.values[collector.lowercased ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
            }
            return MHD_Result.YES
        }, Unmanaged.passUnretained(collector).toOpaque())
    }
    return collector.values
}
