import CSodium
import Foundation

/// One document of a datanet: a plain text, or a prompt with its completion (trained on the
/// completion only).
///
/// Every document has one **text**, the UTF-8 string that is hashed, contributed and stored
/// (docs/datanets.md): a plain document's text is itself; a prompt/completion document's text
/// is the canonical JSON of `{"completion", "prompt"}` (`canonicalJSON`). Its **id** is the
/// BLAKE2b-256 of the text's UTF-8 bytes, 64 lowercase hex digits — the `contentHash` of its
/// `contribute` transaction. A text that is exactly such canonical JSON is a prompt/completion
/// document, wherever it came from, so `init(text:)` recovers the kind from the text alone.
public struct DatanetDocument: Hashable, Sendable {
    /// What the document holds.
    public enum Content: Hashable, Sendable {
        case text(String)
        case promptCompletion(prompt: String, completion: String)
    }

    public let content: Content
    /// The contributor's address, 64 lowercase hex digits, when known.
    public let contributor: String?
    /// The text that is hashed and stored (see the type's description).
    public let text: String
    /// BLAKE2b-256 of `text`'s UTF-8 bytes, 64 lowercase hex digits.
    public let id: String

    /// The document whose text is `text`: a prompt/completion document when `text` is the
    /// canonical JSON of one, else a plain one. `contributor` must be 64 lowercase hex digits.
    public init(text: String, contributor: String? = nil) {
        precondition(contributor.map(Self.isAddress) ?? true, "contributor is not 64 lowercase hex digits")
        content = Self.promptCompletion(canonicalText: text) ?? .text(text)
        self.contributor = contributor
        self.text = text
        id = Self.blake2b256Hex(Array(text.utf8))
    }

    /// A prompt/completion document; its text is `canonicalJSON([("completion", …), ("prompt", …)])`.
    public init(prompt: String, completion: String, contributor: String? = nil) {
        precondition(contributor.map(Self.isAddress) ?? true, "contributor is not 64 lowercase hex digits")
        content = .promptCompletion(prompt: prompt, completion: completion)
        self.contributor = contributor
        text = Self.canonicalJSON([("completion", completion), ("prompt", prompt)])
        id = Self.blake2b256Hex(Array(text.utf8))
    }

    /// The UTF-8 size of `text`, what the `contribute` transaction records.
    public var sizeBytes: Int { text.utf8.count }

    /// Whether `text` is an address as documents carry it: 64 lowercase hex digits.
    public static func isAddress(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    // MARK: Canonical JSON

    /// A JSON object of string members in canonical form (RFC 8785): keys in ascending order
    /// (callers pass them sorted; they are ASCII here, where byte and UTF-16 order agree), no
    /// whitespace, strings escaping only `"`, `\` and control characters (`\b \f \n \r \t`,
    /// others `\u00xx`), everything else as literal UTF-8 — what Python's
    /// `json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes.
    public static func canonicalJSON(_ members: [(key: String, value: String)]) -> String {
        precondition(zip(members, members.dropFirst()).allSatisfy { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) },
                     "canonical JSON keys must be ascending and distinct")
        var out = "{"
        for (index, member) in members.enumerated() {
            if index > 0 { out += "," }
            appendQuoted(member.key, to: &out)
            out += ":"
            appendQuoted(member.value, to: &out)
        }
        return out + "}"
    }

    private static func appendQuoted(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// The prompt and completion when `text` is exactly the canonical JSON of such a pair with
    /// a non-empty completion (what a datanet file may hold; anything else stays plain text).
    private static func promptCompletion(canonicalText text: String) -> Content? {
        guard text.hasPrefix("{\"completion\":"),
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], object.count == 2,
              let prompt = object["prompt"] as? String, let completion = object["completion"] as? String, !completion.isEmpty
        else { return nil }
        // Byte equality, not String equality: Swift compares strings up to canonical equivalence.
        guard Array(canonicalJSON([("completion", completion), ("prompt", prompt)]).utf8) == Array(text.utf8) else { return nil }
        return .promptCompletion(prompt: prompt, completion: completion)
    }

    // MARK: Hashing

    private static let sodiumReady = sodium_init() >= 0

    /// BLAKE2b-256 (libsodium `crypto_generichash`, no key) of `bytes`, lowercase hex.
    static func blake2b256Hex(_ bytes: [UInt8]) -> String {
        precondition(sodiumReady, "libsodium failed to initialise")
        var digest = [UInt8](repeating: 0, count: 32)
        _ = bytes.withUnsafeBufferPointer { crypto_generichash(&digest, 32, $0.baseAddress, UInt64($0.count), nil, 0) }
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
