/// One GGUF metadata value. Integer widths collapse to 64 bits; the parser keeps the
/// value, not its encoded width, because readers only ever need the number.
public enum GGUFValue: Sendable, Equatable {
    case unsigned(UInt64)
    case signed(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as a non-negative integer, if it is one.
    public var integer: Int? {
        switch self {
        case let .unsigned(value): value <= UInt64(Int.max) ? Int(value) : nil
        case let .signed(value): value >= 0 ? Int(value) : nil
        default: nil
        }
    }

    /// The value as a floating-point number, if it is a number.
    public var number: Double? {
        switch self {
        case let .float(value): value
        case let .unsigned(value): Double(value)
        case let .signed(value): Double(value)
        default: nil
        }
    }

    /// The value as text, if it is a string.
    public var string: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    /// The value as a boolean, if it is one.
    public var bool: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }

    /// The elements, if the value is an array.
    public var array: [GGUFValue]? {
        if case let .array(value) = self { return value }
        return nil
    }
}

/// GGUF metadata: key → value, with typed lookups that name the key when it is absent or
/// of the wrong kind.
public struct GGUFMetadata: Sendable {
    /// Every key and its value.
    public let values: [String: GGUFValue]

    /// The value of `key`, or nil.
    public subscript(key: String) -> GGUFValue? { values[key] }

    /// `key` as a non-negative integer.
    public func integer(_ key: String) throws(ModelFileError) -> Int {
        guard let value = values[key] else { throw .missing("GGUF metadata key \(key)") }
        guard let integer = value.integer else { throw .malformed("GGUF metadata \(key) is not a non-negative integer") }
        return integer
    }

    /// `key` as a number.
    public func number(_ key: String) throws(ModelFileError) -> Double {
        guard let value = values[key] else { throw .missing("GGUF metadata key \(key)") }
        guard let number = value.number else { throw .malformed("GGUF metadata \(key) is not a number") }
        return number
    }

    /// `key` as a string.
    public func string(_ key: String) throws(ModelFileError) -> String {
        guard let value = values[key] else { throw .missing("GGUF metadata key \(key)") }
        guard let string = value.string else { throw .malformed("GGUF metadata \(key) is not a string") }
        return string
    }

    /// `key` as an array of strings.
    public func stringArray(_ key: String) throws(ModelFileError) -> [String] {
        guard let value = values[key] else { throw .missing("GGUF metadata key \(key)") }
        guard let array = value.array else { throw .malformed("GGUF metadata \(key) is not an array") }
        var strings: [String] = []
        strings.reserveCapacity(array.count)
        for element in array {
            guard let string = element.string else { throw .malformed("GGUF metadata \(key) holds a non-string") }
            strings.append(string)
        }
        return strings
    }

    /// `key` as an array of integers.
    public func integerArray(_ key: String) throws(ModelFileError) -> [Int] {
        guard let value = values[key] else { throw .missing("GGUF metadata key \(key)") }
        guard let array = value.array else { throw .malformed("GGUF metadata \(key) is not an array") }
        var integers: [Int] = []
        integers.reserveCapacity(array.count)
        for element in array {
            switch element {
            case let .signed(value): integers.append(Int(value))
            case let .unsigned(value) where value <= UInt64(Int.max): integers.append(Int(value))
            default: throw .malformed("GGUF metadata \(key) holds a non-integer")
            }
        }
        return integers
    }
}
