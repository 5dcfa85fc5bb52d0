import Foundation

/// A response body written while it is being sent (server-sent events): the producer calls
/// `write` and finally `finish`; the connection thread blocks in `read` until bytes arrive.
/// When the connection is done with the body (sent, or the client went away), the `onClose`
/// handlers run once, so the producer can stop early.
final class HTTPBodyStream: @unchecked Sendable {  // mutable state is guarded by `condition`
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var finished = false
    private var closed = false
    private var closeHandlers: [@Sendable () -> Void] = []

    /// Appends bytes to the body; ignored once the client has gone.
    func write(_ bytes: [UInt8]) {
        condition.withLock {
            guard !closed, !finished else { return }
            pending += bytes
            condition.signal()
        }
    }

    /// Ends the body after the bytes written so far.
    func finish() {
        condition.withLock {
            finished = true
            condition.signal()
        }
    }

    /// Runs `handler` when the connection closes before or after `finish` (at once if it already has).
    func onClose(_ handler: @escaping @Sendable () -> Void) {
        let runNow = condition.withLock {
            if closed { return true }
            closeHandlers.append(handler)
            return false
        }
        if runNow { handler() }
    }

    /// Copies up to `capacity` bytes into `buffer`, waiting for some; nil at the end of the body.
    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !finished { condition.wait() }
        if pending.isEmpty { return nil }
        let count = min(capacity, pending.count)
        pending.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: count) }
        pending.removeFirst(count)
        return count
    }

    /// Called by the server when the connection is done with the body.
    func close() {
        let handlers = condition.withLock {
            closed = true
            defer { closeHandlers = [] }
            return closeHandlers
        }
        for handler in handlers { handler() }
    }
}
