import Foundation

/// A payment header or facilitator body that cannot be read: bad base64, bad JSON, a
/// missing or mistyped field, a value outside its format, or more than
/// `X402.headerBytesMax` bytes. Answered with HTTP 400 and a JSON error body.
public struct X402Malformed: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Typed reads of one JSON object's fields, each failure an `X402Malformed` naming the
/// field by its path (e.g. `payload.authorization.nonce`).
struct X402Object {
    let fields: [String: Any]
    let path: String

    init(_ value: Any?, path: String) throws(X402Malformed) {
        guard let fields = value as? [String: Any] else { throw X402Malformed("\(path.isEmpty ? "the message" : path) must be a JSON object") }
        self.fields = fields
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }

    func string(_ key: String) throws(X402Malformed) -> String {
        guard let value = fields[key] else { throw X402Malformed("missing field \(name(key))") }
        guard let text = value as? String else { throw X402Malformed("\(name(key)) must be a string") }
        return text
    }

    func object(_ key: String) throws(X402Malformed) -> X402Object {
        guard fields[key] != nil else { throw X402Malformed("missing field \(name(key))") }
        return try X402Object(fields[key], path: name(key))
    }

    /// A JSON number holding a whole value in `range` (booleans are not numbers here).
    func integer(_ key: String, in range: ClosedRange<Int>) throws(X402Malformed) -> Int {
        guard let value = fields[key] else { throw X402Malformed("missing field \(name(key))") }
        guard let number = value as? NSNumber, !X402JSON.isBoolean(number) else { throw X402Malformed("\(name(key)) must be a number") }
        let double = number.doubleValue
        guard double.rounded() == double, double >= Double(range.lowerBound), double <= Double(range.upperBound) else {
            throw X402Malformed("\(name(key)) must be a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(double)
    }

    /// Fails unless `x402Version` is the number 2.
    func requireVersion() throws(X402Malformed) {
        let version = try integer("x402Version", in: 0...Int(Int32.max))
        guard version == X402.version else { throw X402Malformed("\(name("x402Version")) must be \(X402.version), not \(version)") }
    }

    /// An amount: a decimal string of atomic units, no sign, no leading zeros (except "0").
    func amount(_ key: String) throws(X402Malformed) -> UInt64 {
        let text = try string(key)
        guard let value = X402JSON.amount(text) else { throw X402Malformed("\(name(key)) must be a decimal string of atomic units without leading zeros") }
        return value
    }
}

/// JSON and base64 as the x402 headers carry them.
public enum X402JSON {
    /// Standard padded base64 of the UTF-8 JSON of `object` (keys sorted, slashes unescaped).
    public static func headerValue(_ object: [String: Any]) -> String { data(object).base64EncodedString() }

    /// The UTF-8 JSON of `object`, keys sorted.
    public static func data(_ object: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The JSON object carried by a header value: at most `X402.headerBytesMax` bytes of
    /// standard padded base64 (canonical: no whitespace, padding present, unused bits zero).
    public static func object(headerValue value: String) throws(X402Malformed) -> [String: Any] {
        guard value.utf8.count <= X402.headerBytesMax else { throw X402Malformed("the header is \(value.utf8.count) bytes, more than \(X402.headerBytesMax)") }
        guard let data = Data(base64Encoded: value), data.base64EncodedString() == value else {
            throw X402Malformed("the header is not standard padded base64")
        }
        return try object(json: data)
    }

    /// The JSON object in `data` (a facilitator request body or a decoded header).
    public static func object(json data: Data) throws(X402Malformed) -> [String: Any] {
        guard String(data: data, encoding: .utf8) != nil else { throw X402Malformed("the JSON is not UTF-8") }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch { throw X402Malformed("the JSON does not parse") }
        guard let object = value as? [String: Any] else { throw X402Malformed("the JSON is not an object") }
        return object
    }

    /// Parses an amount string: decimal digits of a `UInt64`, no sign, no leading zeros
    /// except "0" itself.
    public static func amount(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt64(text)
    }

    /// Whether a parsed JSON number is really `true` or `false`.
    static func isBoolean(_ number: NSNumber) -> Bool { type(of: number) == booleanType }
    private static let booleanType = type(of: NSNumber(value: true))
}
