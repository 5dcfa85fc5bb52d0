/// Amounts of OPEN, the native token, in atomic units: 1 OPEN = 10^9 atomic units.
///
/// Amounts are `UInt64` everywhere in the ledger; all arithmetic on them is checked, and an
/// overflow is a rejected transaction, never a wrap.
public enum OPEN {
    public static let decimals = 9
    public static let atomicUnitsPerOPEN: UInt64 = 1_000_000_000

    /// Parses a decimal amount of OPEN such as `"1.5"` or `"1000000"` into atomic units.
    /// Nil for signs, exponents, more than 9 decimals or values beyond `UInt64`.
    public static func atomicUnits(fromDecimal text: String) -> UInt64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholeText = parts.first, !wholeText.isEmpty, wholeText.allSatisfy(\.isASCIIDigit),
              let whole = UInt64(wholeText)
        else { return nil }
        var fraction: UInt64 = 0
        if parts.count == 2 {
            let fractionText = parts[1]
            guard !fractionText.isEmpty, fractionText.count <= decimals, fractionText.allSatisfy(\.isASCIIDigit) else {
                return nil
            }
            let padded = fractionText + String(repeating: "0", count: decimals - fractionText.count)
            guard let value = UInt64(padded) else { return nil }
            fraction = value
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: atomicUnitsPerOPEN)
        guard !overflow else { return nil }
        let (total, carry) = scaled.addingReportingOverflow(fraction)
        return carry ? nil : total
    }

    /// Formats atomic units as a decimal amount of OPEN without trailing zeros, e.g. `"1.5"`.
    public static func decimal(fromAtomicUnits units: UInt64) -> String {
        let whole = units / atomicUnitsPerOPEN
        let fraction = units % atomicUnitsPerOPEN
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

extension Character {
    /// Exactly one of the ASCII characters 0-9 (no combining marks, no other scripts' digits).
    var isASCIIDigit: Bool { asciiValue.map { (0x30...0x39).contains($0) } ?? false }
}
