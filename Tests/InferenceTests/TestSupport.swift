import Foundation
import Inference
import Testing

/// The reference outputs in `Fixtures/expected.json`.
struct Expected: Decodable {
    struct Prompt: Decodable {
        let text: String
        let tokenIds: [Int32]
        let decodedGreedyBase: String
    }

    struct Case: Decodable {
        let adapter: String?
        let promptIndex: Int
        let greedy: [Int32]
    }

    let newTokens: Int
    let prompts: [Prompt]
    let cases: [Case]

    static let shared: Expected = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try! Data(contentsOf: Fixtures.url("expected.json"))
        return try! decoder.decode(Expected.self, from: data)
    }()

    /// The base model's greedy continuation of prompt `index`.
    func baseGreedy(_ index: Int) -> [Int32] {
        cases.first { $0.adapter == nil && $0.promptIndex == index }!.greedy
    }
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Reference logits, read with the engine's own safetensors parser.
    static let logits: SafetensorsFile = try! SafetensorsFile(path: url("base-logits.safetensors").path)

    static func referenceLogits(_ name: String) -> [Float] {
        logits.tensor(name)!.floats()
    }

    /// A fresh temporary directory for files a test writes.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-inference-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The default model, located as the node does; the tests fail (not skip) without it.
enum DefaultModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["TRIBUTARY_MODEL"], !explicit.isEmpty { return explicit }
        let home = environment["TRIBUTARY_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tributary").path
        return URL(fileURLWithPath: home).appendingPathComponent("models").appendingPathComponent(fileName).path
    }

    static let loaded: Result<LlamaModel, ModelFileError> = Result { () throws(ModelFileError) in try LlamaModel(path: path) }

    /// The model, or a failure that says how to get it.
    static func model() throws -> LlamaModel {
        switch loaded {
        case let .success(model): return model
        case let .failure(error):
            Issue.record("default model unavailable (\(error)); run `tributary model fetch` (or `make test`, which does) or set TRIBUTARY_MODEL")
            throw error
        }
    }
}

/// Suites that run the model share the machine's cores, so they run one at a time.
@Suite(.serialized) struct ModelTests {}
