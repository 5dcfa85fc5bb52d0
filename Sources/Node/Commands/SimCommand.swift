import Consensus
import Dispatch
import Foundation
import Synchronization

/// `tributary sim`: deterministic simulation of a validator network.
enum SimCommand {
    static let spec = CommandSpec(
        path: ["sim"],
        summary: "Simulate a validator network under faults from a seed; any failure replays from its seed.",
        discussion: """
        Runs real nodes (consensus engine, ledger execution, a RocksDB store and WAL each, under
        /dev/shm when present) on a simulated network and clock. Faults (comma-separated): \
        \(SimulationConfig.Fault.allCases.map(\.rawValue).joined(separator: ", ")). Byzantine validators \
        misbehave as one of: \(SimulationConfig.Behavior.allCases.map(\.rawValue).joined(separator: ", ")).
        Checked at every step: no two blocks at one height among honest nodes, no honest double-sign,
        equal app hashes, valid certificates; at the end, every honest node reached the target height.
        Example: tributary sim --seeds 1..1000 --validators 4 --byzantine 1 --faults crash,partition,drop
        """,
        options: [
            .init(name: "seed", value: "S", help: "One seed (default 1)."),
            .init(name: "seeds", value: "A..B", help: "A range of seeds, e.g. 1..100000."),
            .init(name: "validators", value: "N", help: "Validators (default 4)."),
            .init(name: "byzantine", value: "K", help: "Byzantine validators, at most (N-1)/3 (default 0)."),
            .init(name: "faults", value: "LIST", help: "Faults to inject, or 'all' (default none)."),
            .init(name: "heights", value: "H", help: "Height every honest node must reach (default 10)."),
            .init(name: "trace", value: "LINES", help: "Events shown when a seed fails (default 400)."),
            .init(name: "jobs", value: "N", help: "Seeds run in parallel on N threads (default 1)."),
            .flag("verbose", "Print a line per seed."),
        ]
    ) { try run($0) }

    private static func run(_ arguments: ParsedArguments) throws {
        let validators = try arguments.integer("validators", default: 4, in: 1...64)
        let byzantine = try arguments.integer("byzantine", default: 0, in: 0...21)
        guard byzantine <= SimulationConfig.faultTolerance(validators: validators) else {
            throw UsageError("--byzantine \(byzantine) is more than f = \(SimulationConfig.faultTolerance(validators: validators)) for \(validators) validators")
        }
        let heights = try arguments.integer("heights", default: 10, in: 1...10_000)
        let faults = try parseFaults(arguments.value("faults") ?? "")
        let seeds = try parseSeeds(arguments)
        let traceLines = try arguments.integer("trace", default: 400, in: 1...10_000_000)
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path

        let jobs = try arguments.integer("jobs", default: 1, in: 1...64)
        let verbose = arguments.flag("verbose")
        let sweep = Mutex(Sweep())
        let started = Date()
        // Seeds are dealt round-robin to `jobs` threads; each run is independent and
        // deterministic, so the threads change only the wall time.
        DispatchQueue.concurrentPerform(iterations: jobs) { job in
            var seed = seeds.lowerBound.addingReportingOverflow(UInt64(job))
            while !seed.overflow, seed.partialValue <= seeds.upperBound {
                let current = seed.partialValue
                if sweep.withLock({ $0.failure.map { $0.seed < current } ?? false }) { return }
                var config = SimulationConfig(seed: current, validators: validators, byzantine: byzantine, faults: faults,
                                              heights: UInt64(heights), directory: directory + "/tributary-sim")
                config.traceLines = traceLines
                let report = Simulation(config).run()
                sweep.withLock { $0.add(report, seed: current, verbose: verbose) }
                seed = current.addingReportingOverflow(UInt64(jobs))
            }
        }
        let result = sweep.withLock { $0 }
        if let (seed, report) = result.failure {
            print("seed \(seed) FAILED: \(report.violation!)")
            print("replay: tributary sim --seed \(seed) --validators \(validators) --byzantine \(byzantine)"
                  + (faults.isEmpty ? "" : " --faults \(faults.map(\.rawValue).sorted().joined(separator: ","))")
                  + " --heights \(heights)")
            print("last events:")
            for line in report.trace { print("  \(line)") }
            throw CommandError("simulation seed \(seed) violated an invariant: \(report.violation!)")
        }
        let elapsed = Date().timeIntervalSince(started)
        print("\(result.passed) seeds passed (\(seeds.lowerBound)...\(seeds.upperBound)); validators \(validators), byzantine \(byzantine), "
              + "faults [\(faults.map(\.rawValue).sorted().joined(separator: ","))], heights \(heights); "
              + "highest decision round \(result.maxRound) (after faults \(result.maxRoundAfterFaults)); evidence seen \(result.evidence); "
              + String(format: "%.1f s with %d job(s)", elapsed, jobs))
    }

    /// What the runs of a sweep add up to; the failure kept is the one with the lowest seed.
    private struct Sweep {
        var passed = 0
        var maxRound: UInt32 = 0
        var maxRoundAfterFaults: UInt32 = 0
        var evidence = 0
        var failure: (seed: UInt64, report: SimulationReport)?

        mutating func add(_ report: SimulationReport, seed: UInt64, verbose: Bool) {
            if report.violation != nil {
                if failure.map({ seed < $0.seed }) ?? true { failure = (seed, report) }
                return
            }
            passed += 1
            maxRound = max(maxRound, report.maxRound)
            maxRoundAfterFaults = max(maxRoundAfterFaults, report.maxRoundAfterFaults)
            evidence += report.evidenceSeen
            if verbose {
                print("seed \(seed): height \(report.finalHeight) in \(report.simulatedMs) ms simulated, max round \(report.maxRound), "
                      + "byzantine \(report.byzantine), evidence \(report.evidenceSeen)")
            }
        }
    }

    static func parseFaults(_ text: String) throws(UsageError) -> Set<SimulationConfig.Fault> {
        if text == "all" { return Set(SimulationConfig.Fault.allCases) }
        var faults = Set<SimulationConfig.Fault>()
        for name in text.split(separator: ",") {
            guard let fault = SimulationConfig.Fault(rawValue: String(name)) else {
                throw UsageError("unknown fault '\(name)'; known: \(SimulationConfig.Fault.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            faults.insert(fault)
        }
        return faults
    }

    private static func parseSeeds(_ arguments: ParsedArguments) throws(UsageError) -> ClosedRange<UInt64> {
        if let range = arguments.value("seeds") {
            let parts = range.components(separatedBy: "..")
            guard parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high else {
                throw UsageError("--seeds must be A..B with A <= B, e.g. 1..100")
            }
            return low...high
        }
        let seed = try arguments.integer("seed", default: UInt64(1), in: 0...UInt64.max)
        return seed...seed
    }
}
