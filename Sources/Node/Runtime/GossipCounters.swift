import Gossip
import Synchronization

/// Whether a node is catching up by block sync, and the highest height its peers reported.
struct SyncState: Sendable {
    var catchingUp = false
    var targetHeight: UInt64 = 0
}

/// Gossip counters for `/metrics` and peer scores, shared with the HTTP threads.
final class GossipCounters: Sendable {
    struct Values: Sendable {
        /// Items that arrived (every copy), and those that were new and valid, by channel.
        var itemsReceived = [UInt64](repeating: 0, count: Channel.allCases.count)
        var itemsAccepted = [UInt64](repeating: 0, count: Channel.allCases.count)
        var invalid: [String: UInt64] = [:]
        var router = Router.Counters()
        var peersBanned: UInt64 = 0
    }

    private let values = Mutex(Values())

    var snapshot: Values { values.withLock { $0 } }

    func received(_ channel: Channel) { values.withLock { $0.itemsReceived[Int(channel.rawValue)] += 1 } }

    func accepted(_ channel: Channel, count: Int) {
        values.withLock { $0.itemsAccepted[Int(channel.rawValue)] += UInt64(count) }
    }

    func invalid(_ reason: String) { values.withLock { $0.invalid[reason, default: 0] += 1 } }
    func banned() { values.withLock { $0.peersBanned += 1 } }
    func record(_ router: Router.Counters) { values.withLock { $0.router = router } }
}

extension WireMessage {
    /// The kind's name, for logs.
    var kind: String {
        switch self {
        case .ping: "ping"
        case .pong: "pong"
        case .items: "items"
        case .announce: "announce"
        case .request: "request"
        case .direct: "direct"
        }
    }
}
