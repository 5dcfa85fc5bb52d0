import Crypto
import Foundation
import Inference
import Ledger

/// `tributary datanet export`: every committed document of a datanet — its text from the
/// node's document store, its contributor from the chain — as a datanet file, in id order.
///
/// Each text is checked against its id. The file is written beside `--out` and renamed into
/// place at the end, so a failed export leaves `--out` as it was.
enum DatanetExportCommand {
    static let spec = CommandSpec(
        path: ["datanet", "export"],
        summary: "Write a datanet's committed documents (text and contributor) to a datanet file.",
        discussion: """
        Contributions whose text the node does not hold (posted to another node, or never
        posted) make the export fail, unless --skip-missing leaves them out.
        """,
        options: [
            DatanetCommands.datanetOption,
            .init(name: "out", value: "PATH", help: "The datanet file to write (JSON Lines; required)."),
            NodeClient.nodeOption,
            .flag("skip-missing", "Leave out contributions whose text the node does not hold, instead of failing."),
        ]
    ) { arguments in
        let datanet = try DatanetCommands.datanet(arguments)
        let out = try arguments.required("out")
        let node = NodeClient(arguments: arguments)
        try DatanetCommands.requireRegistered(datanet, node: node)

        let partial = out + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let file = FileHandle(forWritingAtPath: partial) else {
            throw CommandError("cannot write \(partial)")
        }
        var finished = false
        defer {
            try? file.close()
            if !finished { try? FileManager.default.removeItem(atPath: partial) }
        }
        var written = 0
        var missing: [String] = []
        var cursor: String?
        repeat {
            let query = "limit=\(DocumentsAPI.pageDocumentsMax)" + (cursor.map { "&after=\($0)" } ?? "")
            let page = try node.get("/v1/datanets/\(datanet.hex)/documents?\(query)")
            guard let entries = page["documents"] as? [[String: Any]] else { throw CommandError("node's document list lacks documents") }
            for entry in entries {
                guard let id = entry["id"] as? String, let contributor = entry["contributor"] as? String,
                      DatanetDocument.isAddress(contributor), let stored = entry["stored"] as? Bool
                else { throw CommandError("node's document list has a malformed entry: \(entry)") }
                guard stored else {
                    missing.append(id)
                    continue
                }
                try file.write(contentsOf: Data((DatanetFile.line(try document(id, contributor: contributor, node: node)) + "\n").utf8))
                written += 1
            }
            cursor = page["next"] as? String
        } while cursor != nil

        if !missing.isEmpty && !arguments.flag("skip-missing") {
            throw CommandError("\(missing.count) of \(written + missing.count) committed documents have no text on this node (first: \(missing[0])); export from a node that holds them, or pass --skip-missing to leave them out")
        }
        try file.synchronize()
        guard rename(partial, out) == 0 else { throw CommandError("cannot move \(partial) to \(out): \(String(cString: strerror(errno)))") }
        finished = true
        if !missing.isEmpty { Output.note("left out \(missing.count) documents whose text this node does not hold") }
        print("exported \(written) documents of datanet \(datanet.hex) to \(out)")
    }

    /// Document `id`'s text from the node, checked against the id.
    private static func document(_ id: String, contributor: String, node: NodeClient) throws -> DatanetDocument {
        guard let text = try node.get("/v1/documents/\(id)")["text"] as? String else {
            throw CommandError("node's answer for document \(id) lacks its text")
        }
        let document = DatanetDocument(text: text, contributor: contributor)
        guard document.id == id else { throw CommandError("node answered text whose BLAKE2b-256 is \(document.id) for document \(id)") }
        return document
    }
}
