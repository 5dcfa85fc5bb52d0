import CSodium
import Foundation

/// The documents of a datanet file (JSON Lines, docs/datanets.md) as training examples,
/// read from a memory map one batch at a time: the index keeps only each line's place, so
/// memory follows the batch, not the file. Every line is parsed once on opening, so a
/// malformed line stops training before it starts, naming the line.
public struct TrainingDocuments: Sendable {
    public let path: String
    private let file: MappedFile
    /// Byte range of each document's line.
    private let lines: [Range<Int>]
    /// BLAKE2b-256 of the file's bytes (hex): a checkpoint resumes only on the same data.
    public let digest: String

    /// What one line trains on.
    public enum Example: Equatable, Sendable {
        /// Every next token of the text.
        case text(String)
        /// The completion's tokens, after the prompt's.
        case completion(prompt: String, completion: String)
    }

    /// Opens and checks `path`. Blank lines are skipped; any other line must be a JSON
    /// object with a string `text`, or string `prompt` and `completion`.
    public init(path: String) throws(TrainingDataError) {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 { throw .empty(path: path) }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .unreadable(path: path, reason: "\(error)") }
        var lines: [Range<Int>] = []
        let bytes = UnsafeBufferPointer(start: file.base.assumingMemoryBound(to: UInt8.self), count: file.size)
        var start = 0, lineNumber = 0
        while start < bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = start..<end
            if !bytes[line].allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                _ = try Self.parse(Data(bytes[line]), line: lineNumber, path: path)
                lines.append(line)
            }
            start = end + 1
        }
        guard !lines.isEmpty else { throw .empty(path: path) }
        var digest = [UInt8](repeating: 0, count: 32)
        crypto_generichash(&digest, 32, bytes.baseAddress, UInt64(bytes.count), nil, 0)
        self.path = path
        self.file = file
        self.lines = lines
        self.digest = digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Documents in the file.
    public var count: Int { lines.count }

    /// Document `index` (in file order).
    public func example(_ index: Int) -> Example {
        let range = lines[index]
        let data = Data(bytes: file.base + range.lowerBound, count: range.count)
        // Every line parsed when the file was opened, and the map is read-only.
        return try! Self.parse(data, line: index + 1, path: path)
    }

    /// Document `index` tokenized for training: no special tokens added, at most
    /// `maxTokens` tokens; nil when nothing is left to predict.
    public func sequence(_ index: Int, tokenizer: BPETokenizer, maxTokens: Int) -> TrainingSequence? {
        let tokens: [Int32], firstTarget: Int
        switch example(index) {
        case let .text(text):
            tokens = Array(tokenizer.encode(text).prefix(maxTokens))
            firstTarget = 1
        case let .completion(prompt, completion):
            let promptTokens = tokenizer.encode(prompt)
            tokens = Array((promptTokens + tokenizer.encode(completion)).prefix(maxTokens))
            firstTarget = max(1, promptTokens.count)
        }
        let sequence = TrainingSequence(tokens: tokens, firstTarget: firstTarget)
        return sequence.targetCount > 0 ? sequence : nil
    }

    static func parse(_ data: Data, line: Int, path: String) throws(TrainingDataError) -> Example {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .malformedLine(path: path, line: line, reason: "not a JSON object")
        }
        if let text = object["text"] {
            guard let text = text as? String else { throw .malformedLine(path: path, line: line, reason: "\"text\" is not a string") }
            return .text(text)
        }
        guard let prompt = object["prompt"] as? String, let completion = object["completion"] as? String else {
            throw .malformedLine(path: path, line: line, reason: "needs a string \"text\", or string \"prompt\" and \"completion\"")
        }
        return .completion(prompt: prompt, completion: completion)
    }
}

/// Why a datanet file cannot be trained on.
public enum TrainingDataError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case malformedLine(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .empty(path): "\(path) holds no documents"
        case let .malformedLine(path, line, reason): "\(path), line \(line): \(reason)"
        }
    }
}
