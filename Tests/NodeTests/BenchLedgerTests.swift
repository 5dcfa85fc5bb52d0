import Foundation
import Testing

@Suite struct BenchLedgerTests {
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
}
