import Foundation

/// A datanet file: JSON Lines, one document per line (docs/datanets.md).
///
///     {"text": "...", "contributor": "<64-hex address>"}
///     {"prompt": "...", "completion": "...", "contributor": "<64-hex address>"}
///
/// `contributor` may be absent (or null); other keys are ignored; blank lines are skipped.
/// Reading checks every line and fails on the first bad one, naming it; writing puts one
/// document per line in canonical JSON, so reading what was written gives the same documents.
public enum DatanetFile {
    /// A document and the line (from 1) it was read from.
    public struct Entry: Hashable, Sendable {
        public let line: Int
        public let document: DatanetDocument

        public init(line: Int, document: DatanetDocument) {
            self.line = line
            self.document = document
        }
    }

    /// Every document of the file at `path`, in file order.
    public static func read(path: String) throws(DatanetFileError) -> [DatanetDocument] {
        try entries(path: path).map(\.document)
    }

    /// Every document of the file at `path` with its line number, in file order.
    public static func entries(path: String) throws(DatanetFileError) -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatanetFileError(source: path, line: nil, message: "cannot read the file")
        }
        return try parse(data, source: path)
    }

    /// Parses JSON Lines `data`; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws(DatanetFileError) -> [Entry] {
        var entries: [Entry] = []
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if let document = try document(line: line, source: source, number: index + 1) {
                entries.append(Entry(line: index + 1, document: document))
            }
        }
        return entries
    }

    /// The document on one line (its bytes without the newline), or nil for a blank line;
    /// `source` and `number` (from 1) name it in errors. For readers that keep only each
    /// line's place and parse it when needed.
    public static func document(line slice: Data, source: String, number: Int) throws(DatanetFileError) -> DatanetDocument? {
        let bytes = Data(slice)  // indices from 0, whatever the caller's slice
        func failure(_ message: String) -> DatanetFileError { DatanetFileError(source: source, line: number, message: message) }
        guard let line = String(validating: bytes, as: UTF8.self) else { throw failure("not valid UTF-8") }
        if line.allSatisfy(\.isWhitespace) { return nil }
        guard let value = try? JSONSerialization.jsonObject(with: bytes, options: .fragmentsAllowed) else {
            throw failure("not valid JSON")
        }
        guard let object = value as? [String: Any] else { throw failure("not a JSON object, got \(describe(value))") }
        return try document(object, source: source, line: number)
    }

    /// The document a line's JSON object describes; `source` and `line` name it in errors.
    public static func document(_ object: [String: Any], source: String, line: Int?) throws(DatanetFileError) -> DatanetDocument {
        func failure(_ message: String) -> DatanetFileError { DatanetFileError(source: source, line: line, message: message) }
        var contributor: String?
        if let value = object["contributor"], !(value is NSNull) {
            guard let text = value as? String, text.utf8.count == 64, text.utf8.allSatisfy({ $0.isHexDigit }) else {
                throw failure("\"contributor\" must be a 64-hex address, got \(describe(value))")
            }
            contributor = text.lowercased()
        }
        let hasPair = object["prompt"] != nil || object["completion"] != nil
        if let value = object["text"] {
            guard !hasPair else { throw failure("has both \"text\" and \"prompt\"/\"completion\"; a document is one or the other") }
            guard let text = value as? String else { throw failure("\"text\" must be a string, got \(describe(value))") }
            guard !text.isEmpty else { throw failure("\"text\" is empty") }
            return DatanetDocument(text: text, contributor: contributor)
        }
        guard hasPair else { throw failure("missing \"text\" (or \"prompt\" and \"completion\")") }
        for key in ["prompt", "completion"] where !(object[key] is String) {
            throw failure(object[key] == nil ? "has \"\(key == "prompt" ? "completion" : "prompt")\" without \"\(key)\""
                                             : "\"\(key)\" must be a string, got \(describe(object[key]!))")
        }
        let completion = object["completion"] as! String
        guard !completion.isEmpty else { throw failure("\"completion\" is empty") }
        return DatanetDocument(prompt: object["prompt"] as! String, completion: completion, contributor: contributor)
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case let text as String: "\"\(text.prefix(80))\""
        case is NSNull: "null"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        default: "\(value)"
        }
    }

    /// One line (without its newline) for `document`: canonical JSON with `text`, or `prompt`
    /// and `completion`, and `contributor` when known.
    public static func line(_ document: DatanetDocument) -> String {
        var members: [(key: String, value: String)] = []
        switch document.content {
        case let .text(text):
            if let contributor = document.contributor { members.append(("contributor", contributor)) }
            members.append(("text", text))
        case let .promptCompletion(prompt, completion):
            members.append(("completion", completion))
            if let contributor = document.contributor { members.append(("contributor", contributor)) }
            members.append(("prompt", prompt))
        }
        return DatanetDocument.canonicalJSON(members)
    }

    /// Writes `documents`, one line each, to `path` (replacing it).
    public static func write(_ documents: [DatanetDocument], to path: String) throws {
        let text = documents.map { line($0) + "\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// A datanet file that cannot be read: the file, the line (from 1) when one is at fault, and why.
public struct DatanetFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let source: String
    public let line: Int?
    public let message: String

    public init(source: String, line: Int?, message: String) {
        self.source = source
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(source) line \($0): \(message)" } ?? "\(source): \(message)"
    }
}

private extension UInt8 {
    var isHexDigit: Bool { (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self) }
}
