/// The command line after the command path, checked against a `CommandSpec`.
struct ParsedArguments: Sendable {
    let spec: CommandSpec
    private(set) var positionals: [String: String] = [:]
    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []

    /// Parses `--name value`, `--name=value`, `-X value` for options with a short spelling,
    /// boolean `--flag`, and positionals in order. An
    /// option whose value is optional, given without one, counts as a flag.
    /// `--` ends options. Unknown options and missing values are usage errors.
    init(_ arguments: [String], spec: CommandSpec) throws(UsageError) {
        self.spec = spec
        var remaining = arguments[...]
        var freeWords: [String] = []
        var optionsEnded = false
        while var word = remaining.popFirst() {
            if !optionsEnded, word.count == 2, word.hasPrefix("-"), word != "--",
               let option = spec.options.first(where: { $0.short == word.last }) {
                word = "--" + option.name
            }
            if optionsEnded || !word.hasPrefix("--") || word == "-" {
                freeWords.append(word)
                continue
            }
            if word == "--" { optionsEnded = true; continue }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = spec.options.first(where: { $0.name == name }) else {
                throw UsageError("unknown option --\(name) for 'tributary \(spec.path.joined(separator: " "))' (see --help)")
            }
            if option.value == nil {
                if inlineValue != nil { throw UsageError("--\(name) takes no value") }
                flags.insert(name)
                continue
            }
            if option.valueIsOptional, inlineValue == nil, remaining.first.map({ $0.hasPrefix("--") }) ?? true {
                flags.insert(name)
                continue
            }
            guard let value = inlineValue ?? remaining.popFirst() else {
                throw UsageError("--\(name) needs a value \(option.value!)")
            }
            if values[name] != nil && !option.isRepeatable {
                throw UsageError("--\(name) given more than once")
            }
            values[name, default: []].append(value)
        }
        if freeWords.count > spec.positionals.count {
            throw UsageError("unexpected argument '\(freeWords[spec.positionals.count])' (see --help)")
        }
        for (index, positional) in spec.positionals.enumerated() {
            if index < freeWords.count {
                positionals[positional.name] = freeWords[index]
            } else if positional.isRequired {
                throw UsageError("missing argument <\(positional.name)> (usage: \(spec.usage))")
            }
        }
    }

    func positional(_ name: String) -> String? { positionals[name] }

    func requiredPositional(_ name: String) throws(UsageError) -> String {
        guard let value = positionals[name] else { throw UsageError("missing argument <\(name)>") }
        return value
    }

    /// The last value of `--name`, if given.
    func value(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable `--name`, in command-line order.
    func allValues(_ name: String) -> [String] { values[name] ?? [] }

    func required(_ name: String) throws(UsageError) -> String {
        guard let value = values[name]?.last else { throw UsageError("missing required option --\(name)") }
        return value
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// `--name` as an integer within `range`, or `defaultValue` when absent.
    func integer<T: FixedWidthInteger>(_ name: String, default defaultValue: T, in range: ClosedRange<T>) throws(UsageError) -> T {
        guard let text = value(name) else { return defaultValue }
        guard let number = T(text), range.contains(number) else {
            throw UsageError("--\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }

    /// `--name` as a decimal number within `range`, or `defaultValue` when absent.
    func decimal(_ name: String, default defaultValue: Double, in range: ClosedRange<Double>) throws(UsageError) -> Double {
        guard let text = value(name) else { return defaultValue }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            throw UsageError("--\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }
}
