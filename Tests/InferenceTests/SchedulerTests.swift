import Foundation
import Inference
import Testing

extension ModelTests {
    @Suite struct SchedulerTests {
        /// Events of one request, collected from the scheduler's thread.
        final class Collector: @unchecked Sendable {  // guarded by `condition`
            private let condition = NSCondition()
            private var texts: [String] = []
            private var outcome: Generation?
            private var failure: String?
            private(set) var finishOrder: [Int] = []

            func receive(_ event: GenerationEvent) {
                condition.withLock {
                    switch event {
                    case .text(let text): texts.append(text)
                    case .finished(let generation): outcome = generation
                    case .failed(let message): failure = message
                    case .cancelled(let generated): failure = "cancelled after \(generated) tokens"
                    }
                    condition.broadcast()
                }
            }

            /// The finished generation and its streamed text (fails the test on a failure event).
            func wait() -> (Generation, String)? {
                condition.withLock {
                    while outcome == nil && failure == nil { condition.wait() }
                    #expect(failure == nil, "\(failure ?? "")")
                    return outcome.map { ($0, texts.joined()) }
                }
            }
        }

        /// Requests that arrive while others run join the batch and still get exactly what
        /// they get alone.
        @Test func requestsJoiningARunningBatchGetTheirOwnResults() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let prompts = Expected.shared.prompts.map(\.tokenIds)
            let requests = prompts.indices.map { index in
                GenerationRequest(promptTokens: prompts[index], maxTokens: 6 + 2 * index, stopStrings: index == 0 ? ["\n\nThe"] : [])
            }
            let alone = try requests.map { try TextGenerator(engine: engine).generate([$0])[0] }

            let scheduler = GenerationScheduler(engine: engine)
            defer { scheduler.stop() }
            var collectors: [Collector] = []
            for request in requests {
                let collector = Collector()
                _ = try scheduler.submit(request) { collector.receive($0) }
                collectors.append(collector)
                usleep(15_000)  // stagger arrivals across decode steps
            }
            for (index, collector) in collectors.enumerated() {
                let (generation, streamed) = try #require(collector.wait())
                #expect(generation.tokens == alone[index].tokens, "request \(index)")
                #expect(generation.text == alone[index].text && streamed == generation.text, "request \(index)")
                #expect(generation.finishReason == alone[index].finishReason, "request \(index)")
            }
        }

        /// A store holding the fixture adapters (copied into a temporary directory).
        static func fixtureStore(budgetBytes: Int = 1 << 30) throws -> (AdapterStore, [String: String], URL) {
            let directory = Fixtures.temporaryDirectory()
            try AdapterFixtures.materialize(into: directory)
            let store = AdapterStore(configuration: try DefaultModel.model().configuration, budgetBytes: budgetBytes)
            var ids: [String: String] = [:]
            for name in AdapterFixtures.names {
                ids[name] = try store.register(path: directory.appendingPathComponent(name).path).id
            }
            return (store, ids, directory)
        }

        /// One slot: a burst on one adapter does not make a later request on another adapter
        /// wait for the whole burst; slots alternate between keys.
        @Test func slotsAlternateBetweenAdapters() throws {
            var limits = GenerationScheduler.Limits()
            limits.runningSequencesMax = 1
            let (store, ids, directory) = try Self.fixtureStore()
            defer { try? FileManager.default.removeItem(at: directory) }
            for id in ids.values { _ = try store.load(id) }
            let scheduler = GenerationScheduler(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2), limits: limits, adapters: store)
            defer { scheduler.stop() }
            let order = OrderLog()
            let prompt = Expected.shared.prompts[1].tokenIds
            // A base request holds the only slot while the others queue up behind it.
            let blocker = Collector()
            _ = try scheduler.submit(GenerationRequest(promptTokens: prompt, maxTokens: 24)) { blocker.receive($0) }
            while scheduler.load.running == 0 { usleep(1_000) }
            var collectors: [Collector] = []
            for (index, name) in ["qv-r8", "qv-r8", "qv-r8", "qv-r8", "mlp-r4-rslora"].enumerated() {
                let collector = Collector()
                _ = try scheduler.submit(GenerationRequest(promptTokens: prompt, maxTokens: 3), adapterID: ids[name]) { event in
                    if case .finished = event { order.append(index) }
                    collector.receive(event)
                }
                collectors.append(collector)
            }
            #expect(scheduler.load.queued == 5)
            _ = blocker.wait()
            collectors.forEach { _ = $0.wait() }
            // FIFO would run the mlp request last; round-robin runs it second.
            #expect(order.values == [0, 4, 1, 2, 3], "\(order.values)")
        }

        /// Adapters named by id are loaded in the background when their turn comes (here with a
        /// budget for one adapter at a time, so they evict each other), and every request gets
        /// what it gets with the adapter applied directly; base requests run meanwhile.
        @Test func adaptersLoadInTheBackgroundAndResultsMatch() throws {
            let engine = InferenceEngine(model: try DefaultModel.model(), threads: 2)
            let largest = try AdapterFixtures.names.map { try AdapterFixtures.adapter($0).byteCount }.max()!
            let (store, ids, directory) = try Self.fixtureStore(budgetBytes: largest)
            defer { try? FileManager.default.removeItem(at: directory) }
            let scheduler = GenerationScheduler(engine: engine, adapters: store)
            defer { scheduler.stop() }
            let names: [String?] = ["all-r16", nil, "qv-r8", "mlp-r4-rslora", nil, "all-r16"]
            var collectors: [Collector] = []
            for (index, name) in names.enumerated() {
                let collector = Collector()
                let request = GenerationRequest(promptTokens: Expected.shared.prompts[index % 6].tokenIds, maxTokens: 8)
                _ = try scheduler.submit(request, adapterID: name.map { ids[$0]! }) { collector.receive($0) }
                collectors.append(collector)
            }
            let generations = collectors.map { $0.wait()?.0 }
            // The scheduler is idle now, so the engine may be used directly.
            for (index, name) in names.enumerated() {
                let generation = try #require(generations[index])
                let direct = GenerationRequest(promptTokens: Expected.shared.prompts[index % 6].tokenIds, maxTokens: 8, adapter: try name.map(AdapterFixtures.adapter))
                let alone = try TextGenerator(engine: engine).generate([direct])[0]
                #expect(generation.tokens == alone.tokens, "request \(index) on \(name ?? "base")")
            }
            // all-r16 cannot stay resident beside either other adapter, so at least one eviction
            // happens in any order; more depend on timing (both all-r16 requests may share one load,
            // and the two small adapters fit together).
            #expect(store.statistics.evictions >= 1)
            #expect(throws: ScheduleError.unknownAdapter("ff")) { try scheduler.submit(GenerationRequest(promptTokens: [1], maxTokens: 1), adapterID: "ff") { _ in } }
        }

        @Test func theQueueIsBoundedAndCancelledRequestsStop() throws {
            var limits = GenerationScheduler.Limits()
            limits.runningSequencesMax = 1
            limits.queuedRequestsMax = 2
            limits.maxTokensMax = 200
            let scheduler = GenerationScheduler(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2), limits: limits)
            defer { scheduler.stop() }
            let prompt = Expected.shared.prompts[2].tokenIds
            let long = GenerationRequest(promptTokens: prompt, maxTokens: 200)
            let events = OrderLog(), ends = OrderLog()
            let running = try scheduler.submit(long) { event in
                if case .text = event { events.append(0) }
                if case let .cancelled(generated) = event { ends.append(generated) }
            }
            while scheduler.load.running == 0 { usleep(1_000) }
            let queued = try scheduler.submit(long) { if case let .cancelled(generated) = $0 { ends.append(-1 - generated) } }
            _ = try scheduler.submit(long) { _ in }
            #expect(throws: ScheduleError.busy(queuedRequestsMax: 2)) { try scheduler.submit(long) { _ in } }
            #expect(throws: ScheduleError.maxTokensTooLarge(asked: 201, limit: 200)) {
                try scheduler.submit(GenerationRequest(promptTokens: prompt, maxTokens: 201)) { _ in }
            }
            #expect(throws: ScheduleError.emptyPrompt) { try scheduler.submit(GenerationRequest(promptTokens: [], maxTokens: 1)) { _ in } }

            queued.cancel()
            running.cancel()
            usleep(200_000)
            let seen = events.values.count
            usleep(200_000)
            #expect(events.values.count == seen, "a cancelled request keeps producing text")
            #expect(scheduler.load.running == 1 && scheduler.load.queued == 0)
            // Each cancelled request hears of it last: the running one with its tokens so far,
            // the queued one with none (logged as -1).
            let ended = ends.values
            #expect(ended.count == 2 && ended.contains(-1) && ended.contains { $0 > 0 }, "\(ended)")
        }

        final class OrderLog: @unchecked Sendable {  // guarded by `lock`
            private let lock = NSLock()
            private var stored: [Int] = []
            func append(_ value: Int) { lock.withLock { stored.append(value) } }
            var values: [Int] { lock.withLock { stored } }
        }
    }
}
