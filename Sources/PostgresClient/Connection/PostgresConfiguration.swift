public import Foundation
import CLibPQ

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
    /// `.transaction` when `conninfo` reaches a pooler in transaction mode
    /// (PgBouncer `pool_mode = transaction`): statements then go unnamed.
    public var pooling: PostgresPooling

    public init(
        conninfo: String = "", connectTimeoutSeconds: Int = 5, applicationName: String = "cleaning-queue",
        pooling: PostgresPooling = .session
    ) {
        self.conninfo = conninfo
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        self.pooling = pooling
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

    /// The settings the conninfo gives, as libpq itself reads them (`PQconninfoParse`):
    /// keyword → value, only the keywords it sets. URLs and `key=value` strings are
    /// both understood exactly as a connection would understand them — quoting,
    /// spacing, percent-encoded names and URL query parameters included — so a
    /// check made on these values cannot be dodged by another spelling.
    ///
    /// Throws when libpq cannot parse the text; the error never repeats the text,
    /// which may hold a password.
    public func settings() throws -> [String: String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(
                kind: .connectionFailed,
                message: "the connection string is neither a postgresql:// URL nor key=value settings libpq accepts "
                    + "(it is not shown here, as it may contain a password)",
                hint: "check its spelling, quoting and percent-encoding")
        }
        defer { PQconninfoFree(options) }
        var settings: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { settings[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return settings
    }

    /// True when the conninfo carries a password (or cannot be parsed, and so might).
    public var containsPassword: Bool {
        guard let settings = try? settings() else { return true }
        return settings["password"] != nil
    }

    /// The conninfo with any password replaced by `***`, safe for logs and errors.
    /// The result is checked with libpq's own parser: when the password is still
    /// readable in it (an unusual spelling), the settings are shown as `key=value`
    /// pairs instead, and a conninfo libpq cannot parse is not shown at all.
    public var redactedConninfo: String {
        guard let settings = try? settings() else { return "(a connection string libpq cannot parse; not shown)" }
        guard let password = settings["password"] else { return conninfo }
        let redacted = Self.redact(conninfo)
        if let check = try? PostgresConfiguration(conninfo: redacted).settings(), check["password"] == "***",
            !redacted.contains(password)
        {
            return redacted
        }
        return settings.sorted { $0.key < $1.key }.map { key, value in
            let shown = key == "password" ? "***" : value
            return "\(key)='\(shown.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'"
        }.joined(separator: " ")
    }

    /// The common spellings (`user:password@` in a URL, `password=` in key=value
    /// form) with the password replaced; `redactedConninfo` verifies the result.
    private static func redact(_ conninfo: String) -> String {
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
