import Crypto
import Foundation
import Ledger

/// Signs transactions with a key file's key and submits them to a node, for the `tx` and
/// `datanet` commands: the chain id, minimum fee and next nonce come from the node unless
/// `--fee` or `--nonce` say otherwise, and each transaction signed takes the next nonce.
struct TransactionSender {
    let node: NodeClient
    let key: SigningKey
    let chainID: String
    let fee: UInt64
    /// The node's `GET /v1/status` answer, read once.
    let status: [String: Any]
    private(set) var nextNonce: UInt64

    /// The command-line options it reads (besides `--key`, which each command lists itself).
    static let options: [CommandSpec.Option] = [
        NodeClient.nodeOption,
        .init(name: "fee", value: "OPEN", help: "Fee in OPEN (default: the chain's minimum)."),
        .init(name: "nonce", value: "N", help: "Nonce (default: the sender's next, counting pending transactions)."),
        .init(name: "timeout-s", value: "S", help: "How long to wait for a commit (default 30)."),
    ]

    init(arguments: ParsedArguments) throws {
        key = try KeyFile.read(from: try arguments.required("key"))
        node = NodeClient(arguments: arguments)
        status = try node.get("/v1/status")
        guard let chainID = status["chain_id"] as? String, let minFee = (status["min_fee"] as? String).flatMap(UInt64.init) else {
            throw CommandError("node status lacks chain_id or min_fee")
        }
        guard chainID.utf8.count <= SigningDomain.chainIDMaxBytes else { throw CommandError("node reports an invalid chain id") }
        self.chainID = chainID
        fee = try arguments.value("fee").map { text throws(UsageError) in try InitCommand.openAmount(text, option: "fee") } ?? minFee
        if let text = arguments.value("nonce") {
            guard let value = UInt64(text) else { throw UsageError("--nonce must be a whole number") }
            nextNonce = value
        } else {
            let account = try node.get("/v1/accounts/\(key.publicKey.hex)")
            guard let pending = account["pending_nonce"] as? Int else { throw CommandError("node account answer lacks pending_nonce") }
            nextNonce = UInt64(pending)
        }
    }

    /// `body` from the key's address at the next nonce, signed.
    mutating func sign(_ body: TransactionBody) -> SignedTransaction {
        defer { nextNonce += 1 }
        return Transaction(sender: key.publicKey, nonce: nextNonce, fee: fee, body: body).signed(by: key, chainID: chainID)
    }

    /// Hands `transaction` to the node; a refusal throws with the node's reason.
    func submit(_ transaction: SignedTransaction) throws {
        _ = try node.post("/v1/txs", json: ["tx": Hex.encode(transaction.canonicalBytes)])
    }

    /// Waits until transaction `hash` is committed and returns the node's answer; throws when
    /// it is dropped or still pending after `timeoutSeconds`.
    func waitForCommit(_ hash: Digest, timeoutSeconds: Int) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        while Date() < deadline {
            let answer = try node.get("/v1/txs/\(hash.hex)")
            switch answer["status"] as? String {
            case "committed": return answer
            case "dropped": throw CommandError("transaction \(hash.hex) was dropped: \(answer["message"] as? String ?? "")")
            default: Thread.sleep(forTimeInterval: 0.1)
            }
        }
        throw CommandError("transaction \(hash.hex) not committed within \(timeoutSeconds) s (still pending)")
    }

    /// `--timeout-s`, checked.
    static func timeoutSeconds(_ arguments: ParsedArguments) throws(UsageError) -> Int {
        try arguments.integer("timeout-s", default: 30, in: 1...3_600)
    }
}
