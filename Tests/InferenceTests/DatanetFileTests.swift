import Foundation
import Inference
import Testing

/// Datanet files (JSON Lines of documents): ids, the canonical text of prompt/completion
/// documents, line-numbered errors, and writing what reads back the same.
struct DatanetFileTests {
    /// Python's `json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` of
    /// `{"prompt": "Q: a\"b\\c\n\t\x01/é€𝄞\x7f", "completion": " yes"}`, and the BLAKE2b-256 of
    /// its UTF-8 bytes from Python's `hashlib.blake2b(digest_size=32)`.
    static let pythonCanonical = "{\"completion\":\" yes\",\"prompt\":\"Q: a\\\"b\\\\c\\n\\t\\u0001/é€𝄞\u{7f}\"}"
    static let pythonCanonicalID = "85aaa2ca6e73fba5e66f90ab6b34afabdad20b9355f1ffc2557e5a7b07eb920c"

    @Test func idIsBLAKE2b256OfTheText() {
        // hashlib.blake2b(b"abc", digest_size=32).hexdigest()
        #expect(DatanetDocument(text: "abc").id == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        #expect(DatanetDocument(text: "abc").sizeBytes == 3)
    }

    @Test func promptCompletionTextIsCanonicalJSON() {
        let document = DatanetDocument(prompt: "Q: a\"b\\c\n\t\u{01}/é€𝄞\u{7f}", completion: " yes")
        #expect(Array(document.text.utf8) == Array(Self.pythonCanonical.utf8))
        #expect(document.id == Self.pythonCanonicalID)
        // The text alone says what kind of document it is.
        let fromText = DatanetDocument(text: Self.pythonCanonical)
        #expect(fromText.content == document.content && fromText.id == document.id)
        // JSON that is not exactly canonical is plain text.
        for text in ["{\"completion\": \" yes\",\"prompt\":\"Q\"}", "{\"completion\":\" yes\",\"prompt\":\"Q\",\"x\":\"y\"}",
                     "{\"completion\":\" yes\",\"prompt\":\"\\u0041\"}"] {
            #expect(DatanetDocument(text: text).content == .text(text), "\(text)")
        }
    }

    @Test func readsDocumentsWithTheirLines() throws {
        let contributor = String(repeating: "ab", count: 32)
        let file = """
        {"text": "first", "contributor": "\(contributor.uppercased())", "source": "ignored"}

        {"prompt": "Q?", "completion": " A.", "contributor": null}\r
        {"text": "line\\nbreak é"}
        """
        let entries = try DatanetFile.parse(Data(file.utf8), source: "notes.jsonl")
        #expect(entries.map(\.line) == [1, 3, 4])
        #expect(entries[0].document == DatanetDocument(text: "first", contributor: contributor))
        #expect(entries[1].document == DatanetDocument(prompt: "Q?", completion: " A."))
        #expect(entries[2].document.content == .text("line\nbreak é"))
    }

    @Test func badLinesAreNamed() {
        let address = String(repeating: "0", count: 64)
        let cases: [(file: String, line: Int, message: String)] = [
            ("{\"text\": \"a\"}\n{\"text\": \"b\"", 2, "not valid JSON"),
            ("[\"text\"]", 1, "not a JSON object"),
            ("{\"text\": \"a\"}\n\n{\"contributor\": \"\(address)\"}", 3, "missing \"text\""),
            ("{\"text\": \"\"}", 1, "\"text\" is empty"),
            ("{\"text\": 7}", 1, "\"text\" must be a string"),
            ("{\"text\": \"a\", \"contributor\": \"xyz\"}", 1, "64-hex address"),
            ("{\"text\": \"a\", \"contributor\": \"\(address)0\"}", 1, "64-hex address"),
            ("{\"text\": \"a\", \"prompt\": \"b\", \"completion\": \"c\"}", 1, "both"),
            ("{\"prompt\": \"b\"}", 1, "without \"completion\""),
            ("{\"prompt\": \"b\", \"completion\": \"\"}", 1, "\"completion\" is empty"),
            ("{\"prompt\": 1, \"completion\": \"c\"}", 1, "\"prompt\" must be a string"),
        ]
        for (file, line, message) in cases {
            do {
                _ = try DatanetFile.parse(Data(file.utf8), source: "f.jsonl")
                Issue.record("accepted \(file)")
            } catch {
                #expect(error.line == line && error.description.contains(message)
                        && error.description.hasPrefix("f.jsonl line \(line): "), "\(file): \(error)")
            }
        }
        var invalidUTF8 = Data("{\"text\": \"ok\"}\n{\"text\": \"".utf8)
        invalidUTF8.append(contentsOf: [0xFF, 0x22, 0x7D])
        #expect(throws: DatanetFileError(source: "f.jsonl", line: 2, message: "not valid UTF-8")) {
            try DatanetFile.parse(invalidUTF8, source: "f.jsonl")
        }
    }

    @Test func writtenFilesReadBackTheSame() throws {
        let documents = [
            DatanetDocument(text: "plain \"quoted\"\n\u{0}tab\t", contributor: String(repeating: "c", count: 64)),
            DatanetDocument(text: "no contributor"),
            DatanetDocument(prompt: "", completion: "only a completion 𝄞", contributor: String(repeating: "1", count: 64)),
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("datanet-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try DatanetFile.write(documents, to: path)
        #expect(try DatanetFile.read(path: path) == documents)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3 && lines[1] == "{\"text\":\"no contributor\"}")
        #expect(throws: DatanetFileError(source: path + ".missing", line: nil, message: "cannot read the file")) {
            try DatanetFile.read(path: path + ".missing")
        }
    }
}
