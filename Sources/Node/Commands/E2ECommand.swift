import Foundation

/// `tributary e2e`: a cluster of real node processes under scripted faults, then checked.
enum E2ECommand {
    static let spec = CommandSpec(
        path: ["e2e"],
        summary: "Run a cluster of node processes under the faults a manifest schedules, then check it.",
        discussion: """
        The manifest (TOML; see deploy/e2e/README.md) names the validators and full nodes, their
        settings, a workload (accounts moving money among themselves through random nodes) and
        perturbations on a schedule: kill (SIGKILL, then restart), restart (SIGINT, then start),
        pause (SIGSTOP/SIGCONT), disconnect, partition (groups) and flap (one link down and up),
        plus an optional twin (a second process with a validator's key). With isolation =
        "netns" (the default; root only) each node runs in its own network namespace on a bridge
        and links are cut by blackhole routes. At the end, every node running and every link
        healed, it checks: one chain (same block bytes at every height), the same app hash,
        supply conserved, every acknowledged transfer committed on every node, commits resumed
        within resume_within_s of the last perturbation, and a twin's validator slashed and jailed
        while the chain went on. Exit status 1 when a check fails (the run's folder is then kept).
        Example: tributary e2e --manifest deploy/e2e/ci.toml
        """,
        options: [
            .init(name: "manifest", value: "FILE", help: "The run to make (required)."),
            .flag("keep", "Keep the run's folder (homes and node logs) even when every check passes."),
            .flag("json", "Print the checks as one JSON object."),
        ]
    ) { try run($0) }

    private static func run(_ arguments: ParsedArguments) throws {
        let manifest = try E2EManifest(path: try arguments.required("manifest"))
        if manifest.isolation == .netns && geteuid() != 0 {
            throw CommandError("isolation = \"netns\" needs root (network namespaces); run as root or use isolation = \"loopback\"")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-e2e-\(manifest.name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        Output.note("e2e \(manifest.name): homes and logs in \(directory)")
        let cluster = try E2ECluster(manifest: manifest, directory: directory)
        let checks: [E2ERun.Check]
        do {
            checks = try E2ERun(cluster: cluster) { Output.note($0) }.run()
        } catch {
            cluster.tearDown()
            throw CommandError("e2e \(manifest.name) did not finish: \(error) (homes and logs kept in \(directory))")
        }
        cluster.tearDown()
        let passed = checks.allSatisfy(\.passed)
        if passed && !arguments.flag("keep") { try? FileManager.default.removeItem(atPath: directory) }
        if arguments.flag("json") {
            try Output.json(["manifest": manifest.name, "passed": passed, "directory": passed && !arguments.flag("keep") ? "" : directory,
                             "checks": checks.map { ["name": $0.name, "passed": $0.passed, "detail": $0.detail] }], pretty: false)
        } else {
            for check in checks { print("\(check.passed ? "ok    " : "FAILED") \(check.name): \(check.detail)") }
            print(passed ? "e2e \(manifest.name): every check passed" : "e2e \(manifest.name): FAILED (homes and logs kept in \(directory))")
        }
        if !passed { exit(1) }
    }
}
