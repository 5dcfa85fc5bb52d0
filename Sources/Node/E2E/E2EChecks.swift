import Crypto
import Foundation
import Ledger

/// What an e2e run must show at its end, every node running and every link healed: one
/// chain (the same block bytes at every height on every node), the same app hash, supply
/// conserved, every acknowledged transfer committed everywhere, commits resumed in time after
/// the last perturbation, and — with a twin — its validator slashed and jailed while the chain
/// went on.
struct E2EChecks {
    let cluster: E2ECluster

    func all(acknowledged: [E2EWorkload.Acknowledged], resumeSeconds: Double?, twinStarted: Date?) throws -> [E2ERun.Check] {
        let nodes = cluster.running
        var checks: [E2ERun.Check] = []
        var height = 0
        do {
            try cluster.waitUntil("every node at the same height", seconds: 120) {
                let heights = try nodes.map(cluster.height)
                guard Set(heights).count == 1 else { return false }
                Thread.sleep(forTimeInterval: 1)  // and still the same a second later: the chain is at rest
                let again = try nodes.map(cluster.height)
                height = again[0]
                return again == heights
            }
            checks.append(.init(name: "same height", passed: true, detail: "\(nodes.count) nodes at height \(height)"))
        } catch {
            let heights = nodes.map { "\(cluster.nodes[$0].name)=\((try? cluster.height($0)) ?? -1)" }
            checks.append(.init(name: "same height", passed: false, detail: heights.joined(separator: " ")))
            height = nodes.compactMap { try? cluster.height($0) }.min() ?? 0
        }
        checks.append(try sameBlocks(nodes, upTo: height))
        checks.append(try sameAppHash(nodes))
        checks.append(try supplyConserved(nodes))
        checks.append(try acknowledgedEverywhere(acknowledged, nodes))
        if let resumeSeconds {
            let limit = cluster.manifest.resumeWithinSeconds
            checks.append(.init(name: "commits resume", passed: resumeSeconds <= limit,
                                detail: String(format: "%.2f s after the last perturbation (limit %.1f s)", resumeSeconds, limit)))
        }
        if let twinStarted, let twin = cluster.manifest.twin {
            checks.append(try twinPunished(validator: cluster.nodes[twin.validator].validator, started: twinStarted, acknowledged: acknowledged))
        }
        return checks
    }

    /// The same block (header hash) at every height on every node. (The bytes may differ: each
    /// node keeps the certificate it assembled, any set of precommits over 2/3 of the power.)
    private func sameBlocks(_ nodes: [Int], upTo height: Int) throws -> E2ERun.Check {
        let sessions = try nodes.map { _ in try HTTPClient.Session() }
        guard height >= 1 else { return .init(name: "one chain", passed: false, detail: "no block was committed") }
        for blockHeight in 1...height {
            var reference: Digest?
            for (node, session) in zip(nodes, sessions) {
                let response = try HTTPClient.send("GET", cluster.nodes[node].http + "/v1/blocks/\(blockHeight)",
                                                   headers: ["Accept: application/octet-stream"], session: session)
                guard response.status == 200, let block = try? Block(canonicalBytes: response.body, maxBytes: response.body.count) else {
                    return .init(name: "one chain", passed: false, detail: "\(cluster.nodes[node].name) has no block \(blockHeight)")
                }
                if let reference, reference != block.hash {
                    return .init(name: "one chain", passed: false,
                                 detail: "\(cluster.nodes[node].name) differs from \(cluster.nodes[nodes[0]].name) at height \(blockHeight)")
                }
                reference = block.hash
            }
        }
        return .init(name: "one chain", passed: true, detail: "\(height) heights, the same block hashes on \(nodes.count) nodes")
    }

    private func sameAppHash(_ nodes: [Int]) throws -> E2ERun.Check {
        let hashes = try nodes.map { try cluster.get($0, "/v1/status")["app_hash"] as? String ?? "" }
        return .init(name: "same app hash", passed: Set(hashes).count == 1, detail: "\(Set(hashes).count) distinct app hash(es)")
    }

    /// Balances, stakes and unbonding stake add up to the recorded supply on every node, and
    /// every node records the same supply.
    private func supplyConserved(_ nodes: [Int]) throws -> E2ERun.Check {
        var supplies = Set<String>()
        for node in nodes {
            let answer = try cluster.get(node, "/v1/supply")
            let supply = answer["supply"] as? String ?? "?"
            supplies.insert(supply)
            guard supply == answer["circulating"] as? String, answer["height"] as? Int == answer["height_after"] as? Int else {
                return .init(name: "supply conserved", passed: false,
                             detail: "\(cluster.nodes[node].name): supply \(supply), circulating \(answer["circulating"] ?? "?")")
            }
        }
        return .init(name: "supply conserved", passed: supplies.count == 1,
                     detail: "circulating = supply = \(supplies.sorted().joined(separator: " / ")) on every node")
    }

    private func acknowledgedEverywhere(_ acknowledged: [E2EWorkload.Acknowledged], _ nodes: [Int]) throws -> E2ERun.Check {
        guard !acknowledged.isEmpty else { return .init(name: "acknowledged transfers", passed: false, detail: "none was acknowledged") }
        let sessions = try nodes.map { _ in try HTTPClient.Session() }
        for transfer in acknowledged {
            for (node, session) in zip(nodes, sessions) {
                let answer = try HTTPClient.send("GET", cluster.nodes[node].http + "/v1/txs/\(transfer.hash.hex)", session: session).json
                guard answer?["status"] as? String == "committed", answer?["height"] as? Int == transfer.height else {
                    return .init(name: "acknowledged transfers", passed: false,
                                 detail: "\(transfer.hash.hex) (acknowledged at height \(transfer.height)) is \(answer?["status"] ?? "missing") on \(cluster.nodes[node].name)")
                }
            }
        }
        return .init(name: "acknowledged transfers", passed: true, detail: "\(acknowledged.count) committed on every node at the same height")
    }

    /// The twin's validator signed conflicting votes: evidence committed, its stake slashed,
    /// out of the validator set — and transfers kept committing afterwards.
    private func twinPunished(validator: Address, started: Date, acknowledged: [E2EWorkload.Acknowledged]) throws -> E2ERun.Check {
        let account = try cluster.get(0, "/v1/accounts/\(validator.hex)")
        let stake = UInt64(account["stake"] as? String ?? "") ?? 0
        let full = 10_000 * OPEN.atomicUnitsPerOPEN
        let members = try cluster.get(0, "/v1/validators")["validators"] as? [[String: Any]] ?? []
        let inSet = members.contains { $0["address"] as? String == validator.hex }
        let later = acknowledged.filter { $0.at > started }
        let lastHeight = acknowledged.map(\.height).max() ?? 0
        let passed = stake < full && !inSet && !later.isEmpty
        return .init(name: "twin slashed and jailed", passed: passed,
                     detail: "stake \(OPEN.decimal(fromAtomicUnits: stake)) of \(OPEN.decimal(fromAtomicUnits: full)) OPEN, \(inSet ? "still" : "not") in the set, \(later.count) transfers acknowledged after the twin started (last at height \(lastHeight))")
    }
}
