import Crypto
import Foundation
import Ledger
import Synchronization

/// The e2e workload: a bank of accounts moving money among themselves through random nodes
/// that are up. Each account has at most one transfer in flight; it counts as acknowledged
/// once the node it went to reports it committed, and only then does the account's nonce
/// move on — so a transfer lost with a killed node's mempool is sent again (to another node)
/// with the same nonce, never skipped.
final class E2EWorkload: @unchecked Sendable {
    /// A transfer a node reported committed, at `height`.
    struct Acknowledged: Sendable {
        let hash: Digest
        let height: Int
        let at = Date()
    }

    /// A transfer in flight that long is sent again to another node.
    static let resendAfterSeconds = 6.0

    private let cluster: E2ECluster
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    // Touched only on the workload thread until `stop` returns.
    private var nonces: [UInt64]
    private var inFlight: [Int: (transfer: SignedTransaction, node: Int, sentAt: Date)] = [:]
    private var acknowledged: [Acknowledged] = []
    private var sendFailures = 0
    private var random = SystemRandomNumberGenerator()

    init(cluster: E2ECluster) {
        self.cluster = cluster
        nonces = Array(repeating: 0, count: cluster.accounts.count)
    }

    /// Sends transfers at the manifest's rate on a thread of its own until `stop`.
    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tributary.e2e.workload"
        thread.start()
    }

    /// Stops sending, waits up to `drainSeconds` for the transfers in flight to be
    /// acknowledged, and returns the acknowledged ones, with how many are still in flight.
    func stop(drainSeconds: Double) -> (acknowledged: [Acknowledged], unfinished: Int, sendFailures: Int) {
        stopped.store(true, ordering: .releasing)
        finished.wait()
        let deadline = Date().addingTimeInterval(drainSeconds)
        while !inFlight.isEmpty && Date() < deadline {
            poll()
            Thread.sleep(forTimeInterval: 0.1)
        }
        return (acknowledged, inFlight.count, sendFailures)
    }

    private func run() {
        let interval = 1 / cluster.manifest.transfersPerSecond
        var next = Date()
        var lastPoll = Date.distantPast
        while !stopped.load(ordering: .acquiring) {
            if Date().timeIntervalSince(lastPoll) >= 0.25 {
                poll()
                lastPoll = Date()
            }
            let now = Date()
            if now < next {
                Thread.sleep(forTimeInterval: min(next.timeIntervalSince(now), 0.05))
                continue
            }
            next = next.addingTimeInterval(interval)
            let idle = (0..<nonces.count).filter { inFlight[$0] == nil }
            guard let account = idle.randomElement(using: &random) else { continue }
            send(fresh(from: account), account: account, avoiding: nil)
        }
    }

    private func fresh(from account: Int) -> SignedTransaction {
        var receiver = Int.random(in: 0..<nonces.count, using: &random)
        if receiver == account { receiver = (receiver + 1) % nonces.count }
        let key = cluster.accounts[account]
        return Transaction(sender: key.publicKey, nonce: nonces[account], fee: 1_000,
                           body: .transfer(to: cluster.accounts[receiver].publicKey, amount: UInt64.random(in: 1...1_000_000, using: &random)))
            .signed(by: key, chainID: cluster.chainID)
    }

    /// Sends to a random node that is up (another than `avoiding`, if there is one).
    private func send(_ transfer: SignedTransaction, account: Int, avoiding: Int?) {
        let up = (0..<cluster.manifest.nodeCount).filter(cluster.isUp)
        guard let node = (up.filter { $0 != avoiding }.randomElement(using: &random) ?? up.randomElement(using: &random)) else { return }
        let body = try? JSONSerialization.data(withJSONObject: ["tx": Hex.encode(transfer.canonicalBytes)])
        guard let response = try? HTTPClient.send("POST", cluster.nodes[node].http + "/v1/txs", body: Array(body ?? Data()),
                                                  headers: ["Content-Type: application/json"])
        else {
            sendFailures += 1
            return
        }
        switch response.json?["error"] as? String {
        case nil where response.status == 202, "already_known":
            inFlight[account] = (transfer, node, Date())
        case "wrong_nonce":
            reconcile(account, transfer, node: node)
        default:
            sendFailures += 1
        }
    }

    /// The node says the account's nonce is used: the transfer may have committed without the
    /// workload hearing of it (its node was killed). Acknowledge it if so, and take the
    /// account's nonce from the node.
    private func reconcile(_ account: Int, _ transfer: SignedTransaction, node: Int) {
        if let status = try? cluster.get(node, "/v1/txs/\(transfer.hash.hex)"), status["status"] as? String == "committed" {
            acknowledged.append(Acknowledged(hash: transfer.hash, height: status["height"] as? Int ?? 0))
        }
        if let nonce = (try? cluster.get(node, "/v1/accounts/\(cluster.accounts[account].publicKey.hex)"))?["nonce"] as? Int {
            nonces[account] = max(nonces[account], UInt64(nonce))
        }
    }

    /// Asks each transfer's node about it: committed → acknowledged; gone (dropped, or the node
    /// lost it) or in flight too long → sent again elsewhere.
    private func poll() {
        for (account, entry) in inFlight {
            let status = try? cluster.get(entry.node, "/v1/txs/\(entry.transfer.hash.hex)")
            switch status?["status"] as? String {
            case "committed":
                acknowledged.append(Acknowledged(hash: entry.transfer.hash, height: status?["height"] as? Int ?? 0))
                nonces[account] += 1
                inFlight[account] = nil
            case "dropped":
                inFlight[account] = nil  // the nonce was not used; a new transfer takes it
            default:
                if Date().timeIntervalSince(entry.sentAt) >= Self.resendAfterSeconds {
                    inFlight[account] = nil
                    send(entry.transfer, account: account, avoiding: entry.node)
                }
            }
        }
    }
}
