import CTOML
import Foundation

/// What `tributary e2e` runs: a TOML file (`deploy/e2e/*.toml`, documented in
/// `deploy/e2e/README.md`) naming the nodes, their settings, the workload, the perturbations
/// on a schedule and, optionally, a twin.
struct E2EManifest {
    enum Isolation: String {
        /// Each node in its own network namespace on a bridge (root only): partitions work.
        case netns
        /// Every node on 127.0.0.1: kills and pauses only.
        case loopback
    }

    struct Perturbation: Equatable {
        enum Action: String, CaseIterable {
            case kill, restart, pause, disconnect, partition, flap
        }

        let atSeconds: Double
        let action: Action
        let nodes: [Int]
        let groups: [[Int]]
        let durationSeconds: Double
        let periodMs: Int

        /// When it ends: the node restarted, resumed or reconnected, the partition healed.
        var endSeconds: Double { atSeconds + durationSeconds }
    }

    struct Twin {
        /// The validator whose key a second process also runs.
        let validator: Int
        let atSeconds: Double
    }

    let name: String
    let validators: Int
    let fullNodes: Int
    let isolation: Isolation
    /// How long the workload runs, from the start of the schedule.
    let durationSeconds: Double
    let accounts: Int
    let transfersPerSecond: Double
    /// Merged into every node's config.json.
    let nodeSettings: [String: Any]
    let perturbations: [Perturbation]
    let twin: Twin?
    /// After the last perturbation ends, commits must resume within this long.
    let resumeWithinSeconds: Double

    var nodeCount: Int { validators + fullNodes }

    init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandError("cannot read manifest \(path)") }
        try self.init(toml: text, origin: path)
    }

    init(toml: String, origin: String = "manifest") throws {
        var error: UnsafeMutablePointer<CChar>?
        guard let json = tributary_toml_to_json(toml, &error) else {
            defer { free(error) }
            throw CommandError("\(origin): \(error.map { String(cString: $0) } ?? "not TOML")")
        }
        defer { free(json) }
        let object = try JSONSerialization.jsonObject(with: Data(String(cString: json).utf8)) as? [String: Any] ?? [:]
        let reader = ManifestReader(origin: origin)
        try reader.allow(object, ["name", "validators", "full_nodes", "isolation", "duration_s", "resume_within_s", "node",
                                  "workload", "perturbation", "twin"], in: "the manifest")
        name = try reader.string(object, "name", default: (origin as NSString).lastPathComponent)
        validators = try reader.integer(object, "validators", in: 1...16)
        fullNodes = try reader.integer(object, "full_nodes", default: 0, in: 0...16)
        let isolationName = try reader.string(object, "isolation", default: Isolation.netns.rawValue)
        guard let isolation = Isolation(rawValue: isolationName) else {
            throw CommandError("\(origin): isolation must be netns or loopback, got '\(isolationName)'")
        }
        self.isolation = isolation
        durationSeconds = try reader.number(object, "duration_s", in: 1...86_400)
        resumeWithinSeconds = try reader.number(object, "resume_within_s", default: 3, in: 0.1...600)
        nodeSettings = object["node"] as? [String: Any] ?? [:]
        let workload = object["workload"] as? [String: Any] ?? [:]
        try reader.allow(workload, ["accounts", "transfers_per_s"], in: "[workload]")
        accounts = try reader.integer(workload, "accounts", default: 16, in: 2...10_000)
        transfersPerSecond = try reader.number(workload, "transfers_per_s", default: 10, in: 0.1...10_000)

        let nodeCount = validators + fullNodes
        var perturbations: [Perturbation] = []
        for (index, entry) in (object["perturbation"] as? [[String: Any]] ?? []).enumerated() {
            let place = "[[perturbation]] \(index + 1)"
            try reader.allow(entry, ["at_s", "action", "nodes", "groups", "duration_s", "period_ms"], in: place)
            let actionName = try reader.string(entry, "action")
            guard let action = Perturbation.Action(rawValue: actionName) else {
                throw CommandError("\(origin): \(place): action must be one of \(Perturbation.Action.allCases.map(\.rawValue)), got '\(actionName)'")
            }
            let nodes = try reader.indices(entry, "nodes", below: nodeCount, in: place)
            let groups = try (entry["groups"] as? [Any] ?? []).map { try reader.indices(["g": $0], "g", below: nodeCount, in: place) }
            let perturbation = Perturbation(
                atSeconds: try reader.number(entry, "at_s", in: 0...86_400), action: action, nodes: nodes, groups: groups,
                durationSeconds: try reader.number(entry, "duration_s", default: 0, in: 0...86_400),
                periodMs: try reader.integer(entry, "period_ms", default: 500, in: 10...60_000))
            switch action {
            case .partition:
                guard groups.count >= 2, Set(groups.flatMap { $0 }).count == groups.flatMap({ $0 }).count else {
                    throw CommandError("\(origin): \(place): a partition needs two or more disjoint groups")
                }
            case .flap:
                guard nodes.count == 2 else { throw CommandError("\(origin): \(place): flap needs the two nodes of a link") }
            default:
                guard !nodes.isEmpty else { throw CommandError("\(origin): \(place): \(action) needs nodes") }
            }
            if [.partition, .flap, .disconnect].contains(action), isolation != .netns {
                throw CommandError("\(origin): \(place): \(action) needs isolation = \"netns\"")
            }
            perturbations.append(perturbation)
        }
        self.perturbations = perturbations.sorted { $0.atSeconds < $1.atSeconds }
        if let twin = object["twin"] as? [String: Any] {
            try reader.allow(twin, ["validator", "at_s"], in: "[twin]")
            self.twin = Twin(validator: try reader.integer(twin, "validator", in: 0...(validators - 1)),
                             atSeconds: try reader.number(twin, "at_s", in: 0...86_400))
        } else {
            twin = nil
        }
    }
}

/// Typed reads from a parsed manifest, each failure naming the file and the field.
private struct ManifestReader {
    let origin: String

    func allow(_ object: [String: Any], _ keys: Set<String>, in place: String) throws {
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw CommandError("\(origin): unknown field '\(unknown)' in \(place) (known: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ object: [String: Any], _ key: String, default value: String? = nil) throws -> String {
        guard let found = object[key] ?? value else { throw CommandError("\(origin): '\(key)' is required") }
        guard let text = found as? String else { throw CommandError("\(origin): '\(key)' must be a string") }
        return text
    }

    func number(_ object: [String: Any], _ key: String, default value: Double? = nil, in range: ClosedRange<Double>) throws -> Double {
        guard let found = object[key] ?? value else { throw CommandError("\(origin): '\(key)' is required") }
        guard let number = (found as? NSNumber)?.doubleValue, range.contains(number) else {
            throw CommandError("\(origin): '\(key)' must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func integer(_ object: [String: Any], _ key: String, default value: Int? = nil, in range: ClosedRange<Int>) throws -> Int {
        let number = try self.number(object, key, default: value.map(Double.init), in: Double(range.lowerBound)...Double(range.upperBound))
        guard number == number.rounded() else { throw CommandError("\(origin): '\(key)' must be a whole number") }
        return Int(number)
    }

    func indices(_ object: [String: Any], _ key: String, below count: Int, in place: String) throws -> [Int] {
        guard let list = object[key] else { return [] }
        guard let numbers = list as? [NSNumber], numbers.allSatisfy({ (0..<count).contains($0.intValue) }) else {
            throw CommandError("\(origin): \(place): '\(key)' must list node indices 0...\(count - 1)")
        }
        return numbers.map(\.intValue)
    }
}
