import Foundation
import Inference
import Synchronization
import Testing

extension ModelTests {
    @Suite struct AdapterStoreTests {
        /// Writes small single-layer adapters `s0…` (rank 2, q_proj of layer `i % 30`: 9,216 bytes each).
        static func smallAdapters(_ count: Int, in directory: URL, configuration: LlamaConfiguration) throws -> [String] {
            try (0..<count).map { index in
                let path = directory.appendingPathComponent("s\(index)").path
                try PEFTWriter.write(randomPairs(configuration: configuration, layers: [index % 30], projections: [.query], rank: 2, seed: UInt64(100 + index)),
                                     configuration: configuration, to: path)
                return path
            }
        }

        @Test func catalogRegistersLooksUpAndRemoves() throws {
            let configuration = try DefaultModel.model().configuration
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try AdapterFixtures.materialize(into: directory)
            let store = AdapterStore(configuration: configuration, budgetBytes: 64 << 20)
            for name in AdapterFixtures.names {
                let info = try store.register(path: directory.appendingPathComponent(name).path)
                let adapter = try AdapterFixtures.adapter(name)
                #expect(info.id == adapter.id && info.name == name && info.byteCount == adapter.byteCount && !info.isResident)
            }
            #expect(store.info(name: "all-r16")?.targetModules == Projection.allCases)
            #expect(store.info(name: "mlp-r4-rslora")?.ranks == [4])
            let qv = try #require(store.info(name: "qv-r8"))
            #expect(store.info(id: qv.id) == qv && store.adapters.map(\.name) == ["all-r16", "mlp-r4-rslora", "qv-r8"])
            #expect(throws: AdapterError.alreadyRegistered("adapter \(qv.id) from \(qv.path)")) { try store.register(path: qv.path, name: "again") }
            let other = try Self.smallAdapters(1, in: directory, configuration: configuration)[0]
            #expect(throws: AdapterError.alreadyRegistered("an adapter named qv-r8")) { try store.register(path: other, name: "qv-r8") }
            #expect(store.residentBytes == 0)
            _ = try store.load(qv.id)
            #expect(store.info(id: qv.id)?.isResident == true && store.residentBytes == qv.byteCount)
            #expect(store.remove(id: qv.id) && !store.remove(id: qv.id))
            #expect(store.info(id: qv.id) == nil && store.info(name: "qv-r8") == nil && store.residentBytes == 0)
            #expect(throws: AdapterError.unknownAdapter(qv.id)) { try store.load(qv.id) }
        }

        /// A registered adapter large enough to be filled on several threads, and to be stored
        /// in memory from the adapter pool (`AdapterMemory`), loads to the same factors as a
        /// first read, for each stored float type.
        @Test func storeLoadsMatchAFirstRead() throws {
            let configuration = try DefaultModel.model().configuration
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = AdapterStore(configuration: configuration, budgetBytes: 64 << 20)
            let pairs = randomPairs(configuration: configuration, layers: Array(0..<8), projections: Projection.allCases, rank: 16, seed: 5)
            for type in [TensorType.f32, .f16, .bf16] {
                let path = directory.appendingPathComponent("large-\(type)").path
                try PEFTWriter.write(pairs, configuration: configuration, to: path, type: type)
                let first = try LoRAAdapter.load(path: path, for: configuration)
                let info = try store.register(path: path)
                #expect(info.byteCount >= 2 << 20)
                let loaded = try store.load(info.id)
                #expect(loaded.id == first.id && loaded.pairs() == first.pairs())
            }
        }

        @Test func badPathsAndOversizedAdaptersAreErrors() throws {
            let configuration = try DefaultModel.model().configuration
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = AdapterStore(configuration: configuration, budgetBytes: 10_000)
            let missing = directory.appendingPathComponent("missing").path
            #expect(throws: AdapterError.missingFile(missing)) { try store.register(path: missing) }
            #expect(throws: AdapterError.self) { try store.register(path: DefaultModel.path) }
            let paths = try Self.smallAdapters(1, in: directory, configuration: configuration)
            let big = directory.appendingPathComponent("big").path
            try PEFTWriter.write(randomPairs(configuration: configuration, layers: [0], projections: [.query], rank: 3, seed: 1), configuration: configuration, to: big)
            #expect(throws: AdapterError.exceedsBudget(name: "big", bytes: 13_824, budgetBytes: 10_000)) { try store.register(path: big) }
            let info = try store.register(path: paths[0])
            // The files change after registration: loading refuses instead of trusting the old id.
            try PEFTWriter.write(randomPairs(configuration: configuration, layers: [0], projections: [.query], rank: 3, seed: 2), configuration: configuration, to: paths[0])
            #expect(throws: AdapterError.changedOnDisk(paths[0])) { try store.load(info.id) }
            let failures = Counter()
            store.prefetch("no-such-id") { result in if case .failure(.unknownAdapter("no-such-id")) = result { failures.add() } }
            #expect(failures.value == 1)
        }

        @Test func leastRecentlyUsedAdaptersAreEvictedFirst() throws {
            let configuration = try DefaultModel.model().configuration
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = AdapterStore(configuration: configuration, budgetBytes: 3 * 9_216)
            let ids = try Self.smallAdapters(5, in: directory, configuration: configuration).map { try store.register(path: $0).id }
            for id in ids[0..<3] { _ = try store.load(id) }
            #expect(store.residentIDs == [ids[2], ids[1], ids[0]] && store.residentBytes == 3 * 9_216)
            #expect(store.resident(ids[0]) != nil)          // 0 is now the most recent; 1 the least
            _ = try store.load(ids[3])
            #expect(store.residentIDs == [ids[3], ids[0], ids[2]])
            #expect(store.resident(ids[1]) == nil)
            let held = try #require(store.resident(ids[2]))  // a request holding an adapter keeps it valid
            _ = try store.load(ids[4])
            _ = try store.load(ids[1])
            #expect(store.residentIDs == [ids[1], ids[4], ids[2]])
            #expect(store.statistics.loads == 6 && store.statistics.evictions == 3 && store.residentBytes == 3 * 9_216)
            _ = try store.load(ids[3])
            #expect(store.resident(ids[2]) == nil && held.targets.count == 1 && held.pairs()[0].a.count == 2 * 576)
        }

        /// Prefetches run on the store's queue; meanwhile `resident` keeps answering at once.
        @Test func prefetchCompletesWithoutBlockingResidentLookups() throws {
            let configuration = try DefaultModel.model().configuration
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = AdapterStore(configuration: configuration, budgetBytes: 1 << 30)
            let small = try store.register(path: try Self.smallAdapters(1, in: directory, configuration: configuration)[0])
            let big = try (0..<4).map { index in
                let path = directory.appendingPathComponent("big\(index)").path
                try PEFTWriter.write(randomPairs(configuration: configuration, layers: Array(0..<30), projections: [.gate, .up, .down], rank: 16, seed: UInt64(index)),
                                     configuration: configuration, to: path)
                return try store.register(path: path)
            }
            let resident = try store.load(small.id)
            let completed = Counter()
            for info in big { store.prefetch(info.id) { result in if case .success = result { completed.add() } } }
            var answeredWhileLoading = 0
            while completed.value < big.count {
                #expect(store.resident(small.id) === resident)
                if completed.value < big.count { answeredWhileLoading += 1 }
            }
            #expect(answeredWhileLoading > 100, "resident() answered only \(answeredWhileLoading) times during four loads")
            #expect(big.allSatisfy { store.resident($0.id) != nil } && store.statistics.loads == 5)
        }

        /// A tiny budget forces evictions while a mixed batch decodes: the running requests
        /// keep their adapters and their outputs stay those of the reference.
        @Test func evictionWhileBatchedRequestsRunKeepsTheirOutputs() throws {
            let model = try DefaultModel.model()
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try AdapterFixtures.materialize(into: directory)
            let largest = try AdapterFixtures.adapter("all-r16").byteCount
            let store = AdapterStore(configuration: model.configuration, budgetBytes: largest)
            let ids = try AdapterFixtures.names.map { try store.register(path: directory.appendingPathComponent($0).path).id }
            let others = try Self.smallAdapters(4, in: directory, configuration: model.configuration).map { try store.register(path: $0).id }
            let adapters = try ids.map { try store.load($0) }      // each load evicts the one before
            #expect(store.residentBytes <= largest)

            let stop = Counter()
            let churn = DispatchGroup()
            DispatchQueue.global().async(group: churn) {
                var index = 0
                while stop.value == 0 {
                    _ = try? store.load((ids + others)[index % (ids.count + others.count)])
                    index += 1
                    usleep(2_000)
                }
            }
            let engine = InferenceEngine(model: model, threads: 2)
            let cases = [(0, 0), (1, 1), (2, 2), (3, nil), (5, 1), (1, 0)] as [(Int, Int?)]
            let caches = cases.map { _ in engine.makeCache() }
            var logits = try engine.evaluate(zip(caches, cases).map { ($0, Expected.shared.prompts[$1.0].tokenIds, $1.1.map { adapters[$0] }) })
            var generated = [[Int32]](repeating: [], count: cases.count)
            for _ in 0..<Expected.shared.newTokens {
                // Each step waits for the churn to evict once more, so evictions interleave
                // with the decode however the two threads are scheduled.
                let evictionsBefore = store.statistics.evictions
                let deadline = Date().addingTimeInterval(30)
                while store.statistics.evictions == evictionsBefore && Date() < deadline { sched_yield() }
                try #require(store.statistics.evictions > evictionsBefore, "the churn evicted nothing for 30 s")
                let next = logits.map(argmax)
                for index in cases.indices { generated[index].append(next[index]) }
                logits = try engine.evaluate(zip(caches, zip(cases, next)).map { ($0, [$1.1], $1.0.1.map { adapters[$0] }) })
            }
            stop.add()
            churn.wait()
            for (index, (prompt, adapter)) in cases.enumerated() {
                let name = adapter.map { AdapterFixtures.names[$0] }
                #expect(LoRAEngineTests.matches(generated[index], Expected.shared.greedy(adapter: name, prompt: prompt)), "\(name ?? "base"), prompt \(prompt)")
            }
            #expect(store.statistics.evictions >= Expected.shared.newTokens)
            #expect(store.residentBytes <= largest)
        }
    }
}

/// A counter shared with escaping closures.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .sequentiallyConsistent) }

    func add() { count.add(1, ordering: .sequentiallyConsistent) }
}
