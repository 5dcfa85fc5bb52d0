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
            for (index, request) in requests.enumerated() {
                let collector = Collector()
                _ = try scheduler.submit(request, key: "k\(index % 2)") { collector.receive($0) }
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

        /// One slot: a burst on one key does not make a later request on another key wait for
        /// the whole burst; slots alternate between keys.
        @Test func slotsAlternateBetweenKeys() throws {
            var limits = GenerationScheduler.Limits()
            limits.runningSequencesMax = 1
            let scheduler = GenerationScheduler(engine: InferenceEngine(model: try DefaultModel.model(), threads: 2), limits: limits)
            defer { scheduler.stop() }
            let order = OrderLog()
            let prompt = Expected.shared.prompts[1].tokenIds
            var collectors: [Collector] = []
            for (index, key) in ["hot", "hot", "hot", "hot", "cold"].enumerated() {
                let collector = Collector()
                _ = try scheduler.submit(GenerationRequest(promptTokens: prompt, maxTokens: 3), key: key) { event in
                    if case .finished = event { order.append(index) }
                    collector.receive(event)
                }
                collectors.append(collector)
            }
            collectors.forEach { _ = $0.wait() }
            // The first hot request may already run; the cold one is next at the latest.
            #expect(order.values.firstIndex(of: 4)! <= 1, "\(order.values)")
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
            let events = OrderLog()
            let running = try scheduler.submit(long) { if case .text = $0 { events.append(0) } }
            while scheduler.load.running == 0 { usleep(1_000) }
            _ = try scheduler.submit(long) { _ in }
            _ = try scheduler.submit(long) { _ in }
            #expect(throws: ScheduleError.busy(queuedRequestsMax: 2)) { try scheduler.submit(long) { _ in } }
            #expect(throws: ScheduleError.maxTokensTooLarge(asked: 201, limit: 200)) {
                try scheduler.submit(GenerationRequest(promptTokens: prompt, maxTokens: 201)) { _ in }
            }
            #expect(throws: ScheduleError.emptyPrompt) { try scheduler.submit(GenerationRequest(promptTokens: [], maxTokens: 1)) { _ in } }

            running.cancel()
            usleep(200_000)
            let seen = events.values.count
            usleep(200_000)
            #expect(events.values.count == seen, "a cancelled request keeps producing text")
            #expect(scheduler.load.running == 1 && scheduler.load.queued == 1)
        }

        final class OrderLog: @unchecked Sendable {  // guarded by `lock`
            private let lock = NSLock()
            private var stored: [Int] = []
            func append(_ value: Int) { lock.withLock { stored.append(value) } }
            var values: [Int] { lock.withLock { stored } }
        }
    }
}
