/// Filling `{slot}` placeholders in the generators' sentence templates.
enum TemplateSlots {
    /// `template` with every `{name}` replaced by `value(name)`, called left to right once per
    /// occurrence (so a slot may be filled differently each time it appears).
    static func fill(_ template: String, _ value: (String) -> String) -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            out += rest[..<open]
            out += value(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// The lowercase words of every template and word list a generator uses: names it
    /// invents must not be one of them.
    static func vocabulary(_ texts: [String]) -> Set<String> {
        Set(texts.flatMap { BM25.terms(of: fill($0) { _ in "" }) })
    }
}
