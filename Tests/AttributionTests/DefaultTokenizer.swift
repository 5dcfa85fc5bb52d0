import Foundation
import Inference
import Testing

/// The default model's tokenizer, read from the model file the node uses (as
/// `InferenceTests`' `DefaultModel` finds it); the tests fail (not skip) without it.
enum DefaultTokenizer {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["TRIBUTARY_MODEL"], !explicit.isEmpty { return explicit }
        let home = environment["TRIBUTARY_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tributary").path
        return URL(fileURLWithPath: home).appendingPathComponent("models").appendingPathComponent(fileName).path
    }

    static let loaded: Result<BPETokenizer, ModelFileError> = Result { () throws(ModelFileError) in
        try BPETokenizer(gguf: GGUFFile(path: path).metadata)
    }

    /// The tokenizer, or a failure that says how to get the model.
    static func tokenizer() throws -> BPETokenizer {
        switch loaded {
        case let .success(tokenizer): return tokenizer
        case let .failure(error):
            Issue.record("default model unavailable (\(error)); run `tributary model fetch` (or `make test`, which does) or set TRIBUTARY_MODEL")
            throw error
        }
    }
}
