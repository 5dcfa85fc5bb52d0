import Foundation
import Testing

extension ClusterSuites {
    @Suite struct BenchTests {
        /// `tributary bench ledger` aborted now and then, its figures lost: a transaction could
        /// reach the engine before its first height began, and the temporary store was removed
        /// while the node still ran. Before the fixes about one run in five crashed.
        @Test(.timeLimit(.minutes(3))) func everyRunFinishesWithItsFigures() throws {
            for run in 0..<12 {
                let result = try Tributary.run(["bench", "ledger", "--accounts", "100", "--transactions", "2000", "--block-size", "100", "--json"])
                #expect(result.status == 0, "run \(run) exited \(result.status): \(result.stderr.suffix(2_000))")
                let figures = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                #expect(figures?["committed_transfers_per_s"] is Double, "run \(run) printed: \(result.stdout)")
            }
        }

        /// `bench network` at a small size: four processes come up, take the load, and every figure
        /// its goals are read on is reported.
        @Test(.timeLimit(.minutes(3))) func benchNetworkReportsEveryGoalsFigure() throws {
            let result = try Tributary.run(["bench", "network", "--accounts", "40", "--transactions", "400", "--latency-seconds", "2", "--json"])
            #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
            let figures = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            for field in ["single_validator_transfers_per_s", "network_transfers_per_s", "latency_p50_ms", "latency_p99_ms"] {
                #expect((figures[field] as? Double ?? 0) > 0, "\(field): \(figures[field] ?? "missing")")
            }
            #expect((figures["bytes_received_per_transfer_per_node"] as? [Double])?.count == 4)
            #expect((figures["copies_per_transaction_per_node"] as? [Double])?.allSatisfy { $0 >= 1 } == true)
            #expect((figures["goals_met"] as? [String: Bool])?.count == 4)
        }
    
        /// `bench x402` at a small size: its three nodes come up, every figure its goals are
        /// read on is reported, and the verifier's own time is under a millisecond.
        @Test(.timeLimit(.minutes(3))) func benchX402ReportsEveryGoalsFigure() throws {
            let result = try Tributary.run(["bench", "x402", "--requests", "10", "--clients", "2", "--window-ms", "1000", "--warmup-ms", "100", "--rounds", "2",
                                            "--max-tokens", "2", "--block-interval-ms", "20", "--json"])
            #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
            let figures = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            for field in ["verify_added_p50_ms", "settle_commit_p50_ms", "settle_pending_p50_ms", "paid_commit_over_unpaid", "paid_pending_over_unpaid"] {
                #expect(figures[field] is Double, "\(field): \(figures[field] ?? "missing")")
            }
            #expect((figures["verifier_in_process_p50_us"] as? Double ?? .infinity) < 1_000)
            #expect((figures["goals"] as? [String: Bool])?.count == 4)
        }
    }
}
