import Foundation
import Testing

extension ClusterSuites {
    /// `tributary e2e` as CI runs it: the short manifest — kill, pause, restart, a flapping link,
    /// 3|1 and 2|2 partitions, a disconnected full node, a twin — over network namespaces (root).
    @Suite struct E2ETests {
        static let manifests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/e2e").path

        @Test(.timeLimit(.minutes(5))) func theCIManifestPassesEveryCheck() throws {
            #expect(geteuid() == 0, "tributary e2e isolates nodes in network namespaces: run the tests as root")
            let run = try Tributary.run(["e2e", "--manifest", Self.manifests + "/ci.toml", "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            let checks = report["checks"] as? [[String: Any]] ?? []
            let failed = checks.filter { $0["passed"] as? Bool != true }
            #expect(run.status == 0 && report["passed"] as? Bool == true, "failed: \(failed), log: \(run.stderr.suffix(3_000))")
            #expect(Set(checks.compactMap { $0["name"] as? String }) == [
                "same height", "one chain", "same app hash", "supply conserved", "acknowledged transfers", "commits resume",
                "twin slashed and jailed",
            ])
        }

        @Test func badManifestsAreRefusedBeforeAnythingStarts() throws {
            let directory = Tributary.temporaryDirectory("e2e-manifests")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cases: [(toml: String, error: String)] = [
                ("validators = 4\nduration_s = 10\nspeed = 3\n", "unknown field 'speed'"),
                ("validators = 4\nduration_s = 10\nisolation = \"loopback\"\n[[perturbation]]\nat_s = 1\naction = \"partition\"\ngroups = [[0, 1], [2, 3]]\n",
                 "partition needs isolation = \"netns\""),
                ("validators = 4\nduration_s = 10\n[[perturbation]]\nat_s = 1\naction = \"kill\"\nnodes = [7]\n", "must list node indices 0...3"),
                ("validators = 4\nduration_s = 10\n[[perturbation]]\nat_s = 1\naction = \"melt\"\nnodes = [1]\n", "action must be one of"),
                ("validators = [4\n", "line 1"),
            ]
            for (index, entry) in cases.enumerated() {
                let path = directory + "/m\(index).toml"
                try entry.toml.write(toFile: path, atomically: true, encoding: .utf8)
                let run = try Tributary.run(["e2e", "--manifest", path])
                #expect(run.status != 0 && run.stderr.contains(entry.error), "manifest \(index): \(run.stderr)")
            }
        }
    }
}
