import CSodium
import Foundation

/// The documents of a datanet file (JSON Lines, docs/datanets.md) as training examples,
/// read from a memory map one batch at a time: the index keeps only each line's place, so
/// memory follows the batch, not the file. Every line is checked once on opening by
/// `DatanetFile`'s rules, so a malformed line stops training before it starts, naming the line.
/// A document may appear once: a repeat (the same id) is refused, since attribution could not
/// tell its copies apart (as `datanet add` skips repeats, a datanet on chain has none).
public struct TrainingDocuments: Sendable {
    public let path: String
    private let file: MappedFile
    /// Byte range of each document's line.
    private let lines: [Range<Int>]
    /// BLAKE2b-256 of the file's bytes (hex): a checkpoint resumes only on the same data.
    public let digest: String

    /// Opens and checks `path`. Blank lines are skipped.
    public init(path: String) throws(TrainingDataError) {
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 { throw .empty(path: path) }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .unreadable(path: path, reason: "\(error)") }
        var lines: [Range<Int>] = []
        let bytes = UnsafeBufferPointer(start: file.base.assumingMemoryBound(to: UInt8.self), count: file.size)
        var start = 0, lineNumber = 0
        var firstLine: [String: Int] = [:]
        while start < bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = start..<end
            let document: DatanetDocument?
            do {
                document = try DatanetFile.document(line: Data(bytes[line]), source: path, number: lineNumber)
            } catch {
                throw .malformedLine(path: path, line: lineNumber, reason: error.message)
            }
            if let document {
                if let first = firstLine[document.id] { throw .repeatedDocument(path: path, line: lineNumber, firstLine: first) }
                firstLine[document.id] = lineNumber
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
    public func document(_ index: Int) -> DatanetDocument {
        let range = lines[index]
        // Every line was checked when the file was opened, and the map is read-only.
        return try! DatanetFile.document(line: Data(bytes: file.base + range.lowerBound, count: range.count), source: path, number: index + 1)!
    }

    /// Document `index` tokenized for training: no special tokens added, at most
    /// `maxTokens` tokens; nil when nothing is left to predict.
    public func sequence(_ index: Int, tokenizer: BPETokenizer, maxTokens: Int) -> TrainingSequence? {
        TrainingSequence(document(index).tokenized(tokenizer), maxTokens: maxTokens)
    }
}

/// Why a datanet file cannot be trained on.
public enum TrainingDataError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case malformedLine(path: String, line: Int, reason: String)
    case repeatedDocument(path: String, line: Int, firstLine: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .empty(path): "\(path) holds no documents"
        case let .malformedLine(path, line, reason): "\(path), line \(line): \(reason)"
        case let .repeatedDocument(path, line, firstLine):
            "\(path), line \(line): the same document as line \(firstLine); a datanet lists each document once (attribution could not tell the copies apart)"
        }
    }
}
