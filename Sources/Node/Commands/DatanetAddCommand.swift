import Crypto
import Foundation
import Inference
import Ledger

/// `tributary datanet add`: one `contribute` transaction per document, and once it is
/// committed the text posted to the node's document store.
///
/// Everything is checked before anything is submitted — the whole file, each document's
/// contributor and size against the node's limit, the datanet, the fees — so a bad input
/// submits nothing. Documents already contributed to the datanet (by anyone) are not
/// contributed again, only their text posted when the node lacks it, so running the command
/// again after a failure finishes the job.
enum DatanetAddCommand {
    /// Contributions submitted before waiting for their commits (well under the mempool's
    /// per-account limit).
    static let submissionWindowTransactions = 200

    static let spec = CommandSpec(
        path: ["datanet", "add"],
        summary: "Contribute documents to a datanet: a contribute transaction each, then the text stored on the node.",
        discussion: """
        --file adds one document, the file's UTF-8 text as it is. --jsonl adds every line of a
        datanet file: {"text": ...} or {"prompt": ..., "completion": ...}, with an optional
        "contributor" that must be the key's address (docs/datanets.md). Prints each document's
        id and what happened to it.
        """,
        options: [
            DatanetCommands.datanetOption,
            TxCommands.keyOption,
            .init(name: "file", value: "PATH", help: "One document: the file's text."),
            .init(name: "jsonl", value: "PATH", help: "A datanet file: one document per line."),
        ] + TransactionSender.options
    ) { arguments in
        let datanet = try DatanetCommands.datanet(arguments)
        let entries = try readEntries(arguments)
        var sender = try TransactionSender(arguments: arguments)
        let source = arguments.value("file") ?? arguments.value("jsonl")!
        try check(entries, source: source, sender: sender)
        try DatanetCommands.requireRegistered(datanet, node: sender.node)

        var seen: [String: Int] = [:]
        var toContribute: [DatanetFile.Entry] = []
        var toPost: [DatanetFile.Entry] = []
        var present = 0
        for entry in entries {
            let id = entry.document.id
            if let first = seen[id] {
                Output.note("\(source) line \(entry.line) repeats the document of line \(first); skipped")
                continue
            }
            seen[id] = entry.line
            switch try sender.node.lookup("/v1/datanets/\(datanet.hex)/documents/\(id)")?["stored"] as? Bool {
            case nil: toContribute.append(entry)
            case false?: toPost.append(entry)
            case true?:
                present += 1
                print("\(id) already contributed and stored")
            }
        }
        try requireFees(for: toContribute.count, sender: sender)

        let timeoutSeconds = try TransactionSender.timeoutSeconds(arguments)
        for start in stride(from: 0, to: toContribute.count, by: submissionWindowTransactions) {
            let window = toContribute[start..<min(start + submissionWindowTransactions, toContribute.count)]
            try contribute(window, to: datanet, sender: &sender, timeoutSeconds: timeoutSeconds)
        }
        for entry in toPost {
            try post(entry.document, to: datanet, node: sender.node)
            print("\(entry.document.id) already contributed; text stored")
        }
        print("datanet \(datanet.hex): \(toContribute.count) contributed, \(toPost.count) stored for earlier contributions, \(present) already there")
    }

    /// The documents named by `--file` or `--jsonl` (exactly one of them).
    private static func readEntries(_ arguments: ParsedArguments) throws -> [DatanetFile.Entry] {
        switch (arguments.value("file"), arguments.value("jsonl")) {
        case let (path?, nil):
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read \(path)") }
            guard let text = String(validating: data, as: UTF8.self) else { throw CommandError("\(path) is not UTF-8 text") }
            guard !text.isEmpty else { throw CommandError("\(path) is empty; a document needs at least one byte") }
            return [DatanetFile.Entry(line: 1, document: DatanetDocument(text: text))]
        case let (nil, path?):
            let entries: [DatanetFile.Entry]
            do { entries = try DatanetFile.entries(path: path) } catch { throw CommandError(error.description) }
            guard !entries.isEmpty else { throw CommandError("\(path) holds no documents") }
            return entries
        default:
            throw UsageError("give exactly one of --file PATH or --jsonl PATH")
        }
    }

    /// Every contributor named is the key's address, and every document fits the node's limit.
    private static func check(_ entries: [DatanetFile.Entry], source: String, sender: TransactionSender) throws {
        let address = sender.key.publicKey.hex
        guard let sizeMax = sender.status["document_bytes_max"] as? Int else {
            throw CommandError("the node does not report document_bytes_max; it does not store datanet documents")
        }
        for entry in entries {
            if let contributor = entry.document.contributor, contributor != address {
                throw CommandError("\(source) line \(entry.line): contributor \(contributor) is not the key's address \(address); each contribution is signed by its contributor")
            }
            guard entry.document.sizeBytes <= sizeMax else {
                throw CommandError("\(source) line \(entry.line): the document is \(entry.document.sizeBytes) bytes; the node stores documents of at most \(sizeMax) bytes (document_bytes_max)")
            }
        }
    }

    /// The account can pay `count` fees.
    private static func requireFees(for count: Int, sender: TransactionSender) throws {
        guard count > 0 else { return }
        let account = try sender.node.get("/v1/accounts/\(sender.key.publicKey.hex)")
        guard let spendable = (account["spendable"] as? String).flatMap(UInt64.init) else {
            throw CommandError("node account answer lacks spendable")
        }
        let (needed, overflow) = sender.fee.multipliedReportingOverflow(by: UInt64(count))
        guard !overflow, needed <= spendable else {
            throw CommandError("\(count) contributions need \(OPEN.decimal(fromAtomicUnits: overflow ? .max : needed)) OPEN in fees; \(sender.key.publicKey.hex) has \(OPEN.decimal(fromAtomicUnits: spendable)) spendable")
        }
    }

    /// Submits a contribution for each document, then waits for each commit and posts its
    /// text. When a submission is refused, those already submitted are still seen through
    /// before the refusal is reported.
    private static func contribute(_ window: ArraySlice<DatanetFile.Entry>, to datanet: Digest,
                                   sender: inout TransactionSender, timeoutSeconds: Int) throws {
        var submitted: [(document: DatanetDocument, transaction: SignedTransaction)] = []
        var refusal: (any Error)?
        for entry in window {
            let document = entry.document
            let transaction = sender.sign(.contribute(datanet: datanet, contentHash: Digest(hex: document.id)!, sizeBytes: UInt64(document.sizeBytes)))
            do { try sender.submit(transaction) } catch {
                refusal = error
                break
            }
            submitted.append((document, transaction))
        }
        for (document, transaction) in submitted {
            let answer = try sender.waitForCommit(transaction.hash, timeoutSeconds: timeoutSeconds)
            try post(document, to: datanet, node: sender.node)
            print("\(document.id) contributed at height \(answer["height"] ?? "?")")
        }
        if let refusal { throw CommandError("a contribution was refused (\(refusal)); those before it are done, run the command again to continue") }
    }

    /// Posts the document's text to the node's document store, as `text/plain`: the body is
    /// the text's bytes exactly, so a document within `document_bytes_max` always fits the
    /// node's body limit (JSON escapes could make it larger).
    private static func post(_ document: DatanetDocument, to datanet: Digest, node: NodeClient) throws {
        _ = try node.post("/v1/datanets/\(datanet.hex)/documents", text: document.text)
    }
}
