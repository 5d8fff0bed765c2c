import Foundation

/// Structured log lines (logfmt: `ts=… level=info msg="…" job_id=42`) on standard
/// error, one line per event, so they can be grepped and shipped as they are.
/// Values are the caller's to keep free of secrets; the engine logs ids, kinds,
/// queues and error text, never job arguments. Error text can quote personal data
/// (a gateway echoing a phone number), so an application gives its log a
/// `redact` rule: it is applied to every line and, by the worker, to every error
/// text it stores in a job row.
public struct JobLog: Sendable {
    public enum Level: String, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
        private var rank: Int {
            switch self {
            case .debug: 0
            case .info: 1
            case .warning: 2
            case .error: 3
            }
        }
    }

    public var minimumLevel: Level
    /// Fields added to every line (e.g. the worker id).
    public var fields: [(String, String)]
    /// Where lines go; standard error unless a test captures them.
    public var sink: @Sendable (String) -> Void
    /// Hides what must not be kept in clear (the engine itself knows of nothing).
    public var redact: @Sendable (String) -> String

    public init(
        minimumLevel: Level = .info, fields: [(String, String)] = [],
        redact: @escaping @Sendable (String) -> String = { $0 },
        sink: @escaping @Sendable (String) -> Void = JobLog.standardError
    ) {
        self.minimumLevel = minimumLevel
        self.fields = fields
        self.redact = redact
        self.sink = sink
    }

    /// Fields are an autoclosure: a line below the minimum level costs no formatting.
    public func log(_ level: Level, _ message: String, _ values: @autoclosure () -> [(String, String)] = []) {
        guard level >= minimumLevel else { return }
        var line = "ts=\(Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))"
        line += " level=\(level.rawValue) msg=\(Self.quote(message))"
        for (key, value) in fields + values() { line += " \(key)=\(Self.quote(value))" }
        sink(redact(line))
    }

    public func debug(_ message: String, _ values: @autoclosure () -> [(String, String)] = []) {
        log(.debug, message, values())
    }
    public func info(_ message: String, _ values: @autoclosure () -> [(String, String)] = []) {
        log(.info, message, values())
    }
    public func warning(_ message: String, _ values: @autoclosure () -> [(String, String)] = []) {
        log(.warning, message, values())
    }
    public func error(_ message: String, _ values: @autoclosure () -> [(String, String)] = []) {
        log(.error, message, values())
    }

    static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.allSatisfy { $0.isLetter || $0.isNumber || "-_.:/@+".contains($0) }
        if plain { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    public static let silent = JobLog(minimumLevel: .error, sink: { _ in })
}
