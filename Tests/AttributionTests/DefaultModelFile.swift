import Foundation
import Inference
import Testing

/// The default model's tokenizer and shape, read from the model file the node uses (as
/// `InferenceTests`' `DefaultModel` finds it); the tests fail (not skip) without it.
enum DefaultModelFile {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["TRIBUTARY_MODEL"], !explicit.isEmpty { return explicit }
        let home = environment["TRIBUTARY_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tributary").path
        return URL(fileURLWithPath: home).appendingPathComponent("models").appendingPathComponent(fileName).path
    }

    static let loaded: Result<(BPETokenizer, LlamaConfiguration), ModelFileError> = Result { () throws(ModelFileError) in
        let metadata = try GGUFFile(path: path).metadata
        return (try BPETokenizer(gguf: metadata), try LlamaConfiguration(gguf: metadata))
    }

    /// The tokenizer, or a failure that says how to get the model.
    static func tokenizer() throws -> BPETokenizer { try file().0 }

    /// The model's shape.
    static func configuration() throws -> LlamaConfiguration { try file().1 }

    private static func file() throws -> (BPETokenizer, LlamaConfiguration) {
        switch loaded {
        case let .success(file): return file
        case let .failure(error):
            Issue.record("default model unavailable (\(error)); run `tributary model fetch` (or `make test`, which does) or set TRIBUTARY_MODEL")
            throw error
        }
    }
}
