public import Foundation

/// How to reach the server. `conninfo` is anything libpq accepts — a
/// `postgresql://` URL or `key=value` pairs; empty means libpq's own defaults,
/// which read the `PG*` environment variables.
public struct PostgresConfiguration: Sendable {
    public var conninfo: String
    /// Seconds to wait for a connection before giving up (libpq `connect_timeout`),
    /// used unless `conninfo` sets its own.
    public var connectTimeoutSeconds: Int
    /// Shown in `pg_stat_activity`, used unless `conninfo` sets its own.
    public var applicationName: String

    public init(conninfo: String = "", connectTimeoutSeconds: Int = 5, applicationName: String = "cleaning-queue") {
        self.conninfo = conninfo
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// `DATABASE_URL` if set, else libpq's `PG*` variables. An explicit value (a
    /// `--database-url` flag) wins over both.
    public static func fromEnvironment(
        explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        applicationName: String = "cleaning-queue"
    ) -> PostgresConfiguration {
        let conninfo = explicit ?? environment["DATABASE_URL"] ?? ""
        return PostgresConfiguration(conninfo: conninfo, applicationName: applicationName)
    }

    /// The conninfo with any password replaced by `***`, safe for logs and errors.
    public var redactedConninfo: String { Self.redact(conninfo) }

    static func redact(_ conninfo: String) -> String {
        var text = conninfo
        // URL form: scheme://user:password@host
        if let schemeEnd = text.range(of: "://") {
            let rest = text[schemeEnd.upperBound...]
            if let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                text.replaceSubrange(rest.index(after: colon)..<at, with: "***")
            }
        }
        // URL query or key=value form: password=...
        for marker in ["password=", "password = "] {
            var searchStart = text.startIndex
            while let range = text.range(of: marker, options: .caseInsensitive, range: searchStart..<text.endIndex) {
                let end = text[range.upperBound...].firstIndex(where: { $0 == " " || $0 == "&" }) ?? text.endIndex
                text.replaceSubrange(range.upperBound..<end, with: "***")
                searchStart = text.index(range.upperBound, offsetBy: 3, limitedBy: text.endIndex) ?? text.endIndex
            }
        }
        return text
    }
}
