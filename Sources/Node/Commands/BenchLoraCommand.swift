import Foundation
import Inference
import Synchronization

/// `tributary bench lora`: LoRA serving at scale — many synthetic PEFT adapters on disk, cold
/// loads, resident memory, and decode throughput of streams that each use their own adapter
/// against the same streams on the base model, with llama.cpp serving the same streams over
/// the same adapters (as GGUF) in the same invocation.
enum BenchLoraCommand {
    static let spec = CommandSpec(
        path: ["bench", "lora"],
        summary: "Measure multi-adapter LoRA serving: cold loads, resident bytes, mixed-adapter throughput, llama.cpp.",
        discussion: """
        Writes --adapters synthetic PEFT adapters (ranks 8, 16, 32 or 64, a random non-empty set
        of the seven projections in every layer, tensors of --dtype) to a temporary directory,
        registers them all in an AdapterStore, then measures: resident bytes of the stream adapters against
        their tensor bytes and the anonymous RSS growth (less the change in what the adapter
        memory pool keeps); aggregate decode tokens/s of --streams streams (prompts of 24–31
        tokens, greedy, 64 steps) each on a different adapter against the same streams on the
        base, the two sets' steps alternating and timed one by one, medians of --repeats rounds
        (with the engine's choice of fetching adapter factors ahead after each round,
        factor_prefetch_runs); last, cold loads (disk → ready) of rank-16 adapters, from the
        page cache, after dropping the files from it, and so into a second store kept at its
        budget (each load evicts, memory is reused). The baseline runs
        bench/llama_cpp_lora_baseline.py once per round, after the two: llama.cpp decodes each
        stream on its own context with only its own adapter (it batches only requests that share
        one adapter set). The directory is removed.
        """,
        options: [
            ModelCommands.modelOption,
            ModelCommands.homeOption,
            .init(name: "activations", value: "f32|int8", help: """
                Activation precision of the base products (default int8: llama.cpp, the baseline, \
                also multiplies its quantized weights by int8-quantized activations).
                """),
            .init(name: "threads", value: "N", help: "Threads for both engines (default 2)."),
            .init(name: "adapters", value: "N", help: "Synthetic adapters written and registered (default 1000)."),
            .init(name: "streams", value: "N", help: "Concurrent streams, each on its own adapter (default 32)."),
            .init(name: "repeats", value: "N", help: "Rounds of base, mixed and llama.cpp runs; medians are reported (default 3)."),
            .init(name: "dtype", value: "TYPE", help: """
                Tensor type of the adapters: f32, f16 or bf16 (default f16: LoRA servers hold \
                factors in 16 bits; vLLM offers only float16 or bfloat16).
                """),
            .init(name: "budget-mb", value: "MB", help: "Resident-set budget of the adapter store (default 4096)."),
            .init(name: "directory", value: "DIR", help: "Where to create the temporary adapter directory (default the system temp)."),
            .init(name: "baseline-python", value: "PATH", help: "Python with llama-cpp-python (default .cache/bench-venv/bin/python)."),
            .init(name: "baseline-script", value: "FILE", help: "The baseline script (default bench/llama_cpp_lora_baseline.py)."),
            .flag("no-baseline", "Measure this engine only."),
            .flag("json", "Print the figures as one JSON object."),
        ]
    ) { arguments in
        let threads = try arguments.integer("threads", default: 2, in: 1...256)
        let activations = try ModelCommands.activations(arguments, default: .int8)
        let adapterCount = try arguments.integer("adapters", default: 1000, in: 1...100_000)
        let streams = try arguments.integer("streams", default: 32, in: 1...32)
        let repeats = try arguments.integer("repeats", default: 3, in: 1...100)
        let budget = try arguments.integer("budget-mb", default: 4096, in: 1...1 << 20) << 20
        let dtypes: [String: TensorType] = ["f32": .f32, "f16": .f16, "bf16": .bf16]
        guard let dtype = dtypes[arguments.value("dtype") ?? "f16"] else { throw UsageError("--dtype must be f32, f16 or bf16") }
        guard streams <= adapterCount else { throw UsageError("--streams \(streams) needs at least as many --adapters") }
        let modelPath = ModelCommands.modelPath(arguments)
        let model = try ModelCommands.load(arguments)
        let parent = arguments.value("directory") ?? FileManager.default.temporaryDirectory.path
        let directory = URL(fileURLWithPath: parent).appendingPathComponent("tributary-bench-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var figures: [String: Any] = ["threads": threads, "streams": streams, "rounds": repeats, "dtype": "\(dtype)", "activations": activations.rawValue]
        let store = AdapterStore(configuration: model.configuration, budgetBytes: budget)
        let infos = try Synthetic.writeAndRegister(
            count: adapterCount, type: dtype, configuration: model.configuration, store: store, directory: directory, threads: threads, figures: &figures)
        let streamInfos = Synthetic.streamAdapters(infos, count: streams)

        // The stream adapters (not loaded yet, equally many of each rank): anonymous RSS growth
        // against their bytes, after free heap memory went back to the system, less the change
        // in memory the adapter pool holds for later loads (touched, so resident, but no adapter's).
        trimHeap()
        AdapterMemory.shared.waitForRefill()
        let rssBefore = residentSetBytes(), poolBefore = AdapterMemory.shared.retainedBytes
        let adapters = try streamInfos.map { try store.load($0.id) }
        AdapterMemory.shared.waitForRefill()
        let rssGrowth = residentSetBytes() - rssBefore - (AdapterMemory.shared.retainedBytes - poolBefore)
        let accounted = adapters.reduce(0) { $0 + $1.byteCount }
        var tensorBytes = 0
        for info in streamInfos {
            tensorBytes += try SafetensorsFile(path: URL(fileURLWithPath: info.path).appendingPathComponent("adapter_model.safetensors").path).tensors.reduce(0) { $0 + $1.bytes.count }
        }
        figures["stream_adapter_ranks"] = adapters.map { $0.targets[0].rank }
        figures["stream_adapter_tensor_bytes"] = tensorBytes
        figures["stream_adapter_resident_bytes"] = accounted
        figures["stream_adapter_rss_growth_bytes"] = rssGrowth
        figures["resident_over_tensor_bytes"] = Double(accounted) / Double(tensorBytes)
        figures["rss_growth_over_tensor_bytes"] = Double(rssGrowth) / Double(tensorBytes)

        let workload = BenchInferenceCommand.Workload(tokenizer: model.tokenizer, repeats: 1)
        let prompts = Array(workload.streamPrompts.prefix(streams))
        var baselineWork: [String: Any]?
        if !arguments.flag("no-baseline") {
            let ggufs = try adapters.enumerated().map { index, adapter in
                let path = directory.appendingPathComponent("stream-\(index).gguf").path
                try adapter.writeGGUF(to: path, type: dtype)
                return path
            }
            var work = workload.json
            work["adapters"] = ggufs
            work["stream_prompts"] = prompts.map { $0.map(Int.init) }
            baselineWork = work
        }
        // Each round decodes the base and the mixed streams in alternation and then runs
        // llama.cpp once, so that all three medians sample the same spells of a machine whose
        // speed drifts (a shared VM).
        Output.note("decoding \(streams) streams on the base and on \(streams) adapters, then llama.cpp on them (\(repeats) round\(repeats == 1 ? "" : "s"))…")
        let engine = InferenceEngine(model: model, threads: threads, activations: activations)
        var base: [Double] = [], mixed: [Double] = [], theirsLora: [Double] = [], theirsBase: [Double] = []
        var mixedTokens: [[Int32]] = []
        var prefetchChoices: [Bool] = []  // the engine's PrefetchTuner choice after each round
        var baseline: [String: Any]?
        for _ in 0..<repeats {
            let run = try decode(engine, prompts: prompts, adapters: adapters)
            base.append(run.base)
            mixed.append(run.mixed)
            mixedTokens = run.tokens
            prefetchChoices.append(engine.prefetchTuner.keepsPrefetching)
            if let baselineWork {
                let round = try LlamaCppBaseline.run(
                    arguments, defaultScript: "bench/llama_cpp_lora_baseline.py", installer: "bench/lora.sh",
                    model: modelPath, threads: threads, workload: baselineWork)
                theirsLora += [round["lora_tokens_per_s"] as? Double].compactMap { $0 }
                theirsBase += [round["base_tokens_per_s"] as? Double].compactMap { $0 }
                baseline = round
            }
        }
        // Cold loads come last: right after the bench has written its gigabytes of adapters, the
        // VM's host was still writing them back and reads from disk took twice as long (F32,
        // p50 16.7 ms against 9.4 ms after a minute's pause), which no serving node sees.
        try measureColdLoads(infos.filter { info in !streamInfos.contains { $0.id == info.id } }, store: store, figures: &figures)
        figures["base_tokens_per_s"] = median(base)
        figures["mixed_tokens_per_s"] = median(mixed)
        figures["mixed_over_base"] = median(mixed) / median(base)
        figures["mixed_over_base_runs"] = zip(mixed, base).map { $0 / $1 }
        figures["base_tokens_per_s_runs"] = base
        figures["mixed_tokens_per_s_runs"] = mixed
        figures["factor_prefetch_runs"] = prefetchChoices

        if var theirs = baseline {
            if !theirsLora.isEmpty {
                theirs["lora_tokens_per_s"] = median(theirsLora)
                theirs["lora_tokens_per_s_runs"] = theirsLora
                figures["mixed_over_llama_cpp_lora"] = median(mixed) / median(theirsLora)
            }
            if !theirsBase.isEmpty {
                theirs["base_tokens_per_s"] = median(theirsBase)
                theirs["base_tokens_per_s_runs"] = theirsBase
            }
            if let tokens = theirs["lora_tokens"] as? [[Int]] {
                figures["llama_cpp_first_token_agreement"] = zip(tokens, mixedTokens).filter { $0.first == $1.first.map(Int.init) }.count
            }
            baseline = theirs
        }
        report(figures, baseline: baseline, model: modelPath, json: arguments.flag("json"))
    }

    /// Greedy decode of one stream per prompt on the base and, separately, of the same
    /// prompts each on `adapters[i]`: both prefill (untimed), then `streamDecodeSteps`
    /// batched steps of the two sets in alternation, each step timed on its own, so that both
    /// throughputs sample the same moments of a machine whose speed drifts (a shared VM
    /// swings by tens of percent within minutes). Returns tokens/s of each set and the mixed
    /// streams' tokens.
    static func decode(_ engine: InferenceEngine, prompts: [[Int32]], adapters: [LoRAAdapter]) throws -> (base: Double, mixed: Double, tokens: [[Int32]]) {
        var base = try StreamSet(engine, prompts: prompts, adapters: nil)
        var mixed = try StreamSet(engine, prompts: prompts, adapters: adapters)
        var baseNanoseconds: UInt64 = 0, mixedNanoseconds: UInt64 = 0
        let steps = BenchInferenceCommand.Workload.streamDecodeSteps
        for _ in 0..<steps {
            baseNanoseconds += try base.step()
            mixedNanoseconds += try mixed.step()
        }
        let tokens = Double(prompts.count * steps)
        return (tokens / (Double(baseNanoseconds) / 1e9), tokens / (Double(mixedNanoseconds) / 1e9), mixed.tokens)
    }

    /// Streams decoded greedily together, one per prompt, each with its adapter (if any).
    struct StreamSet {
        let engine: InferenceEngine
        let caches: [KVCache]
        let adapters: [LoRAAdapter?]
        private(set) var tokens: [[Int32]]

        /// Prefills every prompt and picks each stream's first token.
        init(_ engine: InferenceEngine, prompts: [[Int32]], adapters: [LoRAAdapter]?) throws {
            let caches = prompts.map { _ in engine.makeCache() }, chosen = prompts.indices.map { adapters?[$0] }
            let first = try engine.evaluate(prompts.indices.map { (caches[$0], prompts[$0], chosen[$0]) }).map(Sampler.argmax)
            (self.engine, self.caches, self.adapters, tokens) = (engine, caches, chosen, first.map { [$0] })
        }

        /// One batched decode step of every stream; returns its duration in nanoseconds.
        mutating func step() throws -> UInt64 {
            let start = DispatchTime.now().uptimeNanoseconds
            let next = try engine.evaluate(caches.indices.map { (caches[$0], [tokens[$0].last!], adapters[$0]) }).map(Sampler.argmax)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            for index in next.indices { tokens[index].append(next[index]) }
            return elapsed
        }
    }

    /// Cold loads of rank-16 adapters, 50 of each kind (fewer in small runs): from the page
    /// cache; from disk as the store's resident set grows; and from disk into a second store
    /// kept at its budget, where each load evicts (a node hosting more adapters than fit).
    /// "From disk": the files were read once (by registration for the full store, just before
    /// the loads for the growing one) and then dropped from the page cache
    /// (`posix_fadvise(DONTNEED)`); a VM's host may still cache them. Each load starts once earlier ones' background work has settled:
    /// dirty pages written back, and the adapter memory pool's idle-priority refill finished.
    static func measureColdLoads(_ infos: [AdapterInfo], store: AdapterStore, figures: inout [String: Any]) throws {
        let candidates = infos.filter { $0.ranks == [16] }
        // 50 per kind; fewer (as many for each of the first two kinds) in a run with few adapters.
        let count = min(50, max(1, (candidates.count - fullStoreFillCount) / 3))
        let cached = Array(candidates.prefix(count)), uncached = Array(candidates.dropFirst(count).prefix(count))
        let evicting = Array(candidates.dropFirst(2 * count).prefix(count + fullStoreFillCount))
        Output.note("cold loads: \(cached.count) rank-16 adapters from the page cache, \(uncached.count) from disk, \(max(0, evicting.count - fullStoreFillCount)) from disk into a full store…")
        sync()
        func files(_ info: AdapterInfo) -> [String] {
            ["adapter_config.json", "adapter_model.safetensors"].map { URL(fileURLWithPath: info.path).appendingPathComponent($0).path }
        }
        func timedLoad(_ info: AdapterInfo, from store: AdapterStore) throws -> Double {
            AdapterMemory.shared.waitForRefill()
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try store.load(info.id)
            return BenchInferenceCommand.seconds(since: start) * 1000
        }
        var times: [String: [Double]] = [:]
        for info in cached {
            for file in files(info) { _ = FileManager.default.contents(atPath: file) }
            times["page_cache", default: []].append(try timedLoad(info, from: store))
        }
        // Read once, as the full store's registration reads its adapters just before their loads.
        for info in uncached { for file in files(info) { _ = FileManager.default.contents(atPath: file) } }
        for info in uncached {
            for file in files(info) { dropFromPageCache(file) }
            times["disk", default: []].append(try timedLoad(info, from: store))
        }
        if evicting.count > fullStoreFillCount {
            let full = AdapterStore(configuration: store.configuration, budgetBytes: evicting.prefix(fullStoreFillCount).map(\.byteCount).reduce(0, +))
            let registered = try evicting.map { try full.register(path: $0.path, name: $0.name) }
            for info in registered.prefix(fullStoreFillCount) { _ = try full.load(info.id) }
            for info in registered.dropFirst(fullStoreFillCount) {
                for file in files(info) { dropFromPageCache(file) }
                times["full_store_disk", default: []].append(try timedLoad(info, from: full))
            }
        }
        for (key, values) in times {
            figures["cold_load_rank16_\(key)_p50_ms"] = percentile(values, 0.5)
            figures["cold_load_rank16_\(key)_p90_ms"] = percentile(values, 0.9)
        }
        let sizes = (cached + uncached + evicting).map(\.byteCount)
        figures["cold_load_rank16_mean_mb"] = Double(sizes.reduce(0, +)) / Double(max(1, sizes.count)) / 1e6
    }

    /// Adapters loaded into the full store before its timed loads (its budget holds exactly these).
    static let fullStoreFillCount = 10

    static func dropFromPageCache(_ path: String) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fdatasync(descriptor)
        posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(descriptor)
    }

    /// Returns free heap memory to the system (glibc's `malloc_trim`, looked up at run time).
    static func trimHeap() {
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
    }

    /// The process's anonymous resident memory (`RssAnon` of /proc/self/status): heap pages,
    /// without the mapped model file, whose clean pages the kernel may drop at any time.
    static func residentSetBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }

    static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }

    static func report(_ figures: [String: Any], baseline: [String: Any]?, model: String, json: Bool) {
        if json {
            var object: [String: Any] = ["model": model, "tributary": figures]
            if let baseline { object["llama_cpp"] = baseline }
            try? Output.json(object)
            return
        }
        func value(_ key: String, _ format: String = "%.1f", in source: [String: Any]? = nil) -> String {
            guard let number = (source ?? figures)[key] as? Double else { return "—" }
            return String(format: format, number)
        }
        let streams = figures["streams"] as? Int ?? 0
        print("model \(model), \(figures["threads"] ?? 0) threads, tributary activations \(figures["activations"] ?? "")")
        let ranks = (figures["rank_counts"] as? [String: Int] ?? [:]).sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.value)× r\($0.key)" }
        print("adapters on disk: \(figures["adapters"] ?? 0) \(figures["dtype"] ?? "") (\(value("adapters_gb", "%.1f")) GB; \(ranks.joined(separator: ", "))), written in \(value("write_s")) s, registered (validated and hashed) in \(value("register_s")) s")
        print("cold load, rank 16 (\(value("cold_load_rank16_mean_mb")) MB mean): page cache p50 \(value("cold_load_rank16_page_cache_p50_ms")) ms, p90 \(value("cold_load_rank16_page_cache_p90_ms")) ms; from disk into fresh memory p50 \(value("cold_load_rank16_disk_p50_ms")) ms, p90 \(value("cold_load_rank16_disk_p90_ms")) ms; from disk into a full store (evicting) p50 \(value("cold_load_rank16_full_store_disk_p50_ms")) ms, p90 \(value("cold_load_rank16_full_store_disk_p90_ms")) ms (goal p50 ≤ 10 ms)")
        print("resident bytes of the \(streams) stream adapters: \(value("resident_over_tensor_bytes", "%.4f"))× their tensor bytes; anonymous RSS growth \(value("rss_growth_over_tensor_bytes", "%.4f"))× (goal within 5%)")
        print("decode, \(streams) streams aggregate: base \(value("base_tokens_per_s")) tokens/s, each on its own adapter \(value("mixed_tokens_per_s")) tokens/s: \(value("mixed_over_base", "%.2f"))× (goal ≥ 0.8×)")
        if let baseline {
            print("llama.cpp, \(streams) streams over \(streams) adapters: \(value("lora_tokens_per_s", in: baseline)) tokens/s (base, batched: \(value("base_tokens_per_s", in: baseline)) tokens/s); tributary over llama.cpp: \(value("mixed_over_llama_cpp_lora", "%.2f"))× (goal ≥ 5×); first greedy token equal in \(figures["llama_cpp_first_token_agreement"] ?? "—") of \(streams) streams")
        }
    }
}

/// Synthetic adapters for the bench: adapter `i` has rank 8, 16, 32 or 64 and a random
/// non-empty set of the seven projections in every layer, all drawn from a generator seeded
/// with `i`; `A` is uniform in ±0.5/√inputs, `B` in ±0.005 (rounded to the tensor type),
/// alpha = 2·rank (scale 2).
enum Synthetic {
    static let ranks = [8, 16, 32, 64]

    /// Writes `count` adapters as PEFT directories with tensors of `type` and registers them
    /// all, on `threads` threads.
    static func writeAndRegister(
        count: Int, type: TensorType, configuration: LlamaConfiguration, store: AdapterStore, directory: URL, threads: Int, figures: inout [String: Any]
    ) throws -> [AdapterInfo] {
        let paths = (0..<count).map { directory.appendingPathComponent(String(format: "adapter-%04d", $0)).path }
        Output.note("writing \(count) synthetic PEFT adapters to \(directory.path)…")
        var start = DispatchTime.now().uptimeNanoseconds
        try parallel(count, threads: threads) { index in
            try PEFTWriter.write(pairs(index, configuration), configuration: configuration, to: paths[index], type: type)
        }
        figures["write_s"] = BenchInferenceCommand.seconds(since: start)
        Output.note("registering (validating and hashing) \(count) adapters…")
        start = DispatchTime.now().uptimeNanoseconds
        let registered = Mutex([AdapterInfo?](repeating: nil, count: count))
        try parallel(count, threads: threads) { index in
            let info = try store.register(path: paths[index])
            registered.withLock { $0[index] = info }
        }
        figures["register_s"] = BenchInferenceCommand.seconds(since: start)
        let infos = registered.withLock { $0.compactMap { $0 } }
        figures["adapters"] = infos.count
        figures["adapters_gb"] = Double(infos.reduce(0) { $0 + $1.byteCount }) / 1e9
        figures["rank_counts"] = Dictionary(grouping: infos, by: { String($0.ranks[0]) }).mapValues(\.count)
        return infos
    }

    /// `count` adapters from the end of the list, taking the ranks in turn so that every rank
    /// is equally represented (the list's own mix varies from run to run of the generator).
    static func streamAdapters(_ infos: [AdapterInfo], count: Int) -> [AdapterInfo] {
        var byRank = ranks.map { rank in infos.reversed().filter { $0.ranks == [rank] } }
        var chosen: [AdapterInfo] = []
        var turn = 0
        while chosen.count < count, byRank.contains(where: { !$0.isEmpty }) {
            if !byRank[turn % ranks.count].isEmpty { chosen.append(byRank[turn % ranks.count].removeFirst()) }
            turn += 1
        }
        return chosen
    }

    /// Runs `body(i)` for `i` in `0..<count`, spread over `threads` threads; rethrows the first error.
    static func parallel(_ count: Int, threads: Int, _ body: @Sendable (Int) throws -> Void) throws {
        let failure = Mutex<String?>(nil)
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            for index in stride(from: worker, to: count, by: threads) where failure.withLock({ $0 == nil }) {
                do { try body(index) } catch { failure.withLock { $0 = $0 ?? "\(error)" } }
            }
        }
        if let message = failure.withLock({ $0 }) { throw CommandError(message) }
    }

    static func pairs(_ index: Int, _ c: LlamaConfiguration) -> [LoRAPair] {
        var random = SplitMix64(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let rank = ranks[Int(random.next() % UInt64(ranks.count))]
        var projections = Projection.allCases.filter { _ in random.next() & 1 == 1 }
        if projections.isEmpty { projections = [Projection.allCases[Int(random.next() % 7)]] }
        return (0..<c.layerCount).flatMap { layer in
            projections.map { projection in
                let (inputs, outputs) = projection.shape(c)
                return LoRAPair(layer: layer, projection: projection, rank: rank, scale: 2,
                                a: random.uniform(rank * inputs, amplitude: 0.5 / Float(inputs).squareRoot()),
                                b: random.uniform(outputs * rank, amplitude: 0.005))
            }
        }
    }
}

extension SplitMix64 {
    /// `count` values uniform in ±`amplitude`: 23 random mantissa bits give a float in [1, 2).
    mutating func uniform(_ count: Int, amplitude: Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                let bits = next()
                for half in [bits >> 41, (bits >> 9) & 0x7F_FFFF] where i < count {
                    buffer[i] = (Float(bitPattern: 0x3F80_0000 | UInt32(half)) - 1.5) * 2 * amplitude
                    i += 1
                }
            }
            initialized = count
        }
    }
}
