import Foundation

/// Log lines on stderr: `2026-11-23T22:30:00.123Z INFO  committed block height=5` by default,
/// or one JSON object per line with `--log-format json`.
struct Logger: Sendable {
    enum Format: String, Sendable { case human, json }

    enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error

        init?(name: String) {
            switch name {
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }

        var name: String { ["debug", "info", "warning", "error"][rawValue] }
        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    let format: Format
    let level: Level

    func debug(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.debug, message, fields) }
    func info(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.info, message, fields) }
    func warning(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.warning, message, fields) }
    func error(_ message: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.error, message, fields) }

    func log(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, Any>) {
        log(level, message, fields: fields.map { ($0.key, $0.value) })
    }

    func log(_ level: Level, _ message: String, fields: [(key: String, value: Any)]) {
        guard level >= self.level else { return }
        let line: String
        switch format {
        case .human:
            let label = level.name.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)
            let rendered = fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(Self.timestamp()) \(label) \(message)\(rendered.isEmpty ? "" : " " + rendered)\n"
        case .json:
            var object: [String: Any] = ["ts": Self.timestamp(), "level": level.name, "msg": message]
            for (key, value) in fields {
                object[key] = JSONSerialization.isValidJSONObject([value]) ? value : "\(value)"
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// UTC time with milliseconds, ISO 8601.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
