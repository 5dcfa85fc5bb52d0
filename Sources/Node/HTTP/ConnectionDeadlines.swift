import Foundation

/// Deadlines against slow clients, which the server's idle timeout alone does not stop (a
/// client sending one byte a minute is never idle for long): a request's headers must arrive
/// within `headerTimeoutMs` of its connection opening (or of the connection's previous
/// answer), and its headers and body within `requestTimeoutMs`. A connection past a deadline
/// is shut down from a watchdog thread, which wakes its connection thread. Time spent
/// answering (generation, a stream) is the server's and has no deadline here.
final class ConnectionDeadlines: @unchecked Sendable {  // `connections` and `stopped` are guarded by `condition`
    private struct Watched {
        let socket: Int32
        var headersBy: ContinuousClock.Instant? = nil
        var requestBy: ContinuousClock.Instant? = nil
    }

    let headerTimeoutMs: Int
    let requestTimeoutMs: Int
    private let condition = NSCondition()
    private var connections: [OpaquePointer: Watched] = [:]
    private var stopped = false

    init(headerTimeoutMs: Int, requestTimeoutMs: Int) {
        precondition(headerTimeoutMs > 0 && requestTimeoutMs >= headerTimeoutMs, "deadlines must be positive, the whole request's no shorter")
        self.headerTimeoutMs = headerTimeoutMs
        self.requestTimeoutMs = requestTimeoutMs
        let thread = Thread { self.watch() }
        thread.name = "http-deadlines"
        thread.start()
    }

    /// A connection opened on `socket`.
    func opened(_ connection: OpaquePointer, socket: Int32) {
        condition.withLock { connections[connection] = Watched(socket: socket) }
        awaitRequest(connection)
    }

    /// The connection waits for its next request (opened, or finished an answer); nothing if
    /// it already closed.
    func awaitRequest(_ connection: OpaquePointer) {
        let now = ContinuousClock.now
        condition.withLock {
            connections[connection]?.headersBy = now + .milliseconds(headerTimeoutMs)
            connections[connection]?.requestBy = now + .milliseconds(requestTimeoutMs)
        }
    }

    /// The current request's headers have arrived.
    func headersArrived(_ connection: OpaquePointer) {
        condition.withLock { connections[connection]?.headersBy = nil }
    }

    /// The current request has arrived whole; answering it has no deadline.
    func requestArrived(_ connection: OpaquePointer) {
        condition.withLock { connections[connection]?.requestBy = nil }
    }

    /// The connection closed; its socket may be reused from now on.
    func closed(_ connection: OpaquePointer) {
        condition.withLock { _ = connections.removeValue(forKey: connection) }
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func watch() {
        let period = Double(min(headerTimeoutMs, 1_000)) / 4_000
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            _ = condition.wait(until: Date().addingTimeInterval(period))
            let now = ContinuousClock.now
            for (connection, watched) in connections {
                let late = [watched.headersBy, watched.requestBy].contains { $0.map { $0 <= now } ?? false }
                guard late else { continue }
                // Under the lock: `closed` has not run, so the socket is still this connection's.
                shutdown(watched.socket, Int32(SHUT_RDWR))
                connections[connection] = Watched(socket: watched.socket)
            }
        }
    }
}
