import Synchronization

/// Counters the node exports at `GET /metrics` in the Prometheus text format.
final class NodeMetrics: Sendable {
    let blocksCommitted = Atomic<UInt64>(0)
    let transactionsCommitted = Atomic<UInt64>(0)
    let transactionsReceived = Atomic<UInt64>(0)
    let transactionsRefused = Atomic<UInt64>(0)
    let transactionsDropped = Atomic<UInt64>(0)
    let consensusBusyMicroseconds = Atomic<UInt64>(0)
    let httpResponses2xx = Atomic<UInt64>(0)
    let httpResponses4xx = Atomic<UInt64>(0)
    let httpResponses5xx = Atomic<UInt64>(0)

    func add(_ counter: borrowing Atomic<UInt64>, _ amount: UInt64 = 1) {
        counter.wrappingAdd(amount, ordering: .relaxed)
    }

    func countResponse(status: Int) {
        switch status {
        case 500...: add(httpResponses5xx)
        case 400..<500: add(httpResponses4xx)
        default: add(httpResponses2xx)
        }
    }

    /// The serving gauges of a node that serves a model: requests waiting for a slot and
    /// sequences in the running batch.
    static func renderServing(_ load: (queued: Int, running: Int)) -> String {
        gauge("tributary_serving_requests_queued", "Completion requests waiting for a slot in the batch.", "\(load.queued)")
            + gauge("tributary_serving_sequences_running", "Completion requests in the running batch (from their first step).", "\(load.running)")
    }

    /// One gauge in the exposition format.
    private static func gauge(_ name: String, _ help: String, _ value: String) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
    }

    /// The exposition text, with the gauges passed in.
    func render(height: UInt64, mempoolTransactions: Int, mempoolBytes: Int) -> String {
        func counter(_ name: String, _ help: String, _ value: UInt64, labels: String = "") -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name)\(labels) \(value)\n"
        }
        func load(_ counter: borrowing Atomic<UInt64>) -> UInt64 { counter.load(ordering: .relaxed) }
        return [
            Self.gauge("tributary_block_height", "Height of the last committed block.", "\(height)"),
            Self.gauge("tributary_mempool_transactions", "Transactions waiting in the mempool.", "\(mempoolTransactions)"),
            Self.gauge("tributary_mempool_bytes", "Bytes of transactions waiting in the mempool.", "\(mempoolBytes)"),
            counter("tributary_blocks_committed_total", "Blocks committed by this process.", load(blocksCommitted)),
            counter("tributary_transactions_committed_total", "Transactions committed by this process.", load(transactionsCommitted)),
            counter("tributary_transactions_received_total", "Transactions admitted to the mempool.", load(transactionsReceived)),
            counter("tributary_transactions_refused_total", "Transactions refused at submission.", load(transactionsRefused)),
            counter("tributary_transactions_dropped_total", "Admitted transactions that failed when proposed.", load(transactionsDropped)),
            counter("tributary_consensus_busy_microseconds_total", "Time the consensus thread spent proposing, executing and committing.",
                    load(consensusBusyMicroseconds)),
            "# HELP tributary_http_responses_total HTTP responses by status class.\n# TYPE tributary_http_responses_total counter\n"
                + "tributary_http_responses_total{class=\"2xx\"} \(load(httpResponses2xx))\n"
                + "tributary_http_responses_total{class=\"4xx\"} \(load(httpResponses4xx))\n"
                + "tributary_http_responses_total{class=\"5xx\"} \(load(httpResponses5xx))\n",
        ].joined()
    }
}
