import Crypto
import Foundation
import Ledger

/// One `tributary e2e` run: start the nodes, run the workload, carry out the manifest's
/// perturbations on schedule, then check the cluster.
struct E2ERun {
    /// One verdict of the run.
    struct Check {
        let name: String
        let passed: Bool
        let detail: String
    }

    /// A step of the schedule: at `seconds` after the start.
    private struct Event {
        let seconds: Double
        let what: String
        /// Part of a perturbation (not the twin's start).
        var perturbs = true
        let action: () throws -> Void
    }

    let cluster: E2ECluster
    let log: (String) -> Void

    /// Runs everything and returns the checks (all must pass).
    func run() throws -> [Check] {
        let manifest = cluster.manifest
        for index in 0..<manifest.nodeCount { try cluster.start(index) }
        try cluster.waitUntil("every validator connected to the others", seconds: 60) {
            try (0..<manifest.validators).allSatisfy { try cluster.get($0, "/v1/status")["peers"] as? Int ?? 0 >= manifest.validators - 1 }
        }
        try cluster.waitUntil("every full node caught up", seconds: 60) {
            try (manifest.validators..<manifest.nodeCount).allSatisfy { try cluster.get($0, "/v1/status")["catching_up"] as? Bool == false }
        }
        log("\(manifest.nodeCount) nodes up (\(manifest.validators) validators), \(manifest.isolation) isolation; workload \(manifest.transfersPerSecond) transfers/s among \(manifest.accounts) accounts")

        let workload = E2EWorkload(cluster: cluster)
        let started = Date()
        workload.start()
        var resumeSeconds: Double?
        let events = schedule()
        let lastPerturbation = events.lastIndex { $0.perturbs }
        for (number, event) in events.enumerated() {
            let wait = event.seconds - Date().timeIntervalSince(started)
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            log(String(format: "%7.2f s  %@", Date().timeIntervalSince(started), event.what))
            try event.action()
            if number == lastPerturbation { resumeSeconds = try timeToNextCommit() }
        }
        let remaining = manifest.durationSeconds - Date().timeIntervalSince(started)
        if remaining > 0 { Thread.sleep(forTimeInterval: remaining) }
        let outcome = workload.stop(drainSeconds: 30)
        log("workload stopped: \(outcome.acknowledged.count) transfers acknowledged, \(outcome.unfinished) unfinished, \(outcome.sendFailures) sends refused or failed")
        return try E2EChecks(cluster: cluster).all(acknowledged: outcome.acknowledged, resumeSeconds: resumeSeconds,
                                                    twinStarted: manifest.twin.map { started.addingTimeInterval($0.atSeconds) })
    }

    /// How long after now the network commits a block above the highest height any running
    /// validator has now.
    private func timeToNextCommit() throws -> Double {
        let begin = Date()
        let validators = (0..<cluster.manifest.validators).filter(cluster.isUp)
        let baseline = validators.compactMap { try? cluster.height($0) }.max() ?? 0
        try cluster.waitUntil("a commit after the last perturbation", seconds: 60) {
            validators.contains { ((try? cluster.height($0)) ?? 0) > baseline }
        }
        let seconds = Date().timeIntervalSince(begin)
        log(String(format: "commits resumed %.2f s after the last perturbation ended", seconds))
        return seconds
    }

    /// The perturbations' beginnings and ends (and the twin's start) in time order.
    private func schedule() -> [Event] {
        var events: [Event] = []
        let cluster = self.cluster
        for perturbation in cluster.manifest.perturbations {
            let nodes = perturbation.nodes
            let names = nodes.map { cluster.nodes[$0].name }.joined(separator: ", ")
            func add(_ seconds: Double, _ what: String, _ action: @escaping () throws -> Void) {
                events.append(Event(seconds: seconds, what: what, action: action))
            }
            switch perturbation.action {
            case .kill:
                add(perturbation.atSeconds, "SIGKILL \(names)") { nodes.forEach(cluster.kill) }
                add(perturbation.endSeconds, "restart \(names)") { try nodes.forEach(cluster.start) }
            case .restart:
                add(perturbation.atSeconds, "stop (SIGINT) \(names)") { nodes.forEach { cluster.stop($0) } }
                add(perturbation.endSeconds, "start \(names)") { try nodes.forEach(cluster.start) }
            case .pause:
                add(perturbation.atSeconds, "SIGSTOP \(names)") { nodes.forEach(cluster.pause) }
                add(perturbation.endSeconds, "SIGCONT \(names)") { nodes.forEach(cluster.resume) }
            case .disconnect:
                let others = (0..<cluster.nodes.count).filter { !nodes.contains($0) }
                let links = nodes.flatMap { node in others.map { (node, $0) } }
                add(perturbation.atSeconds, "disconnect \(names)") { try links.forEach(cluster.cut) }
                add(perturbation.endSeconds, "reconnect \(names)") { try links.forEach(cluster.heal) }
            case .partition:
                let groups = perturbation.groups
                var links: [(Int, Int)] = []
                for (index, group) in groups.enumerated() {
                    for other in groups[(index + 1)...] { for a in group { for b in other { links.append((a, b)) } } }
                }
                // Nodes in no group (the twin, full nodes left out) stay with the first group.
                let grouped = Set(groups.flatMap { $0 })
                for loose in (0..<cluster.nodes.count) where !grouped.contains(loose) {
                    for other in groups.dropFirst().flatMap({ $0 }) { links.append((loose, other)) }
                }
                let description = groups.map { $0.map { cluster.nodes[$0].name }.joined(separator: " ") }.joined(separator: " | ")
                add(perturbation.atSeconds, "partition \(description)") { try links.forEach(cluster.cut) }
                add(perturbation.endSeconds, "heal \(description)") { try links.forEach(cluster.heal) }
            case .flap:
                let (a, b) = (nodes[0], nodes[1])
                var seconds = perturbation.atSeconds
                var down = true
                while seconds < perturbation.endSeconds {
                    add(seconds, "link \(names) \(down ? "down" : "up")") { [down] in try down ? cluster.cut(a, b) : cluster.heal(a, b) }
                    seconds += Double(perturbation.periodMs) / 1_000
                    down.toggle()
                }
                add(perturbation.endSeconds, "link \(names) up") { try cluster.heal(a, b) }
            }
        }
        if let twin = cluster.manifest.twin {
            let index = cluster.manifest.nodeCount
            events.append(Event(seconds: twin.atSeconds, what: "start \(cluster.nodes[index].name) (validator \(twin.validator)'s key)",
                                perturbs: false) { try cluster.start(index) })
        }
        return events.enumerated().sorted { ($0.element.seconds, $0.offset) < ($1.element.seconds, $1.offset) }.map(\.element)
    }
}
