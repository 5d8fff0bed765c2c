public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Table for people, JSON for scripts (`--json`).
public enum OutputFormat: Sendable {
    case table
    case json

    public static let help = "  --json               machine-readable JSON instead of a table"
    /// `help`'s option, declared for `--describe-json`.
    public static let option = CommandOption.flag("--json")

    public init(arguments: inout Arguments) {
        self = arguments.flag("--json") ? .json : .table
    }

    /// True when standard output is a terminal (colours, refreshing screens).
    public static var isTerminal: Bool { isatty(1) == 1 }

    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Dates and durations the way the CLI prints them.
public enum DisplayFormat {
    /// In UTC, marked with its zone ("Z"): a time without its zone is ambiguous to a reader.
    public static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        return date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
    }

    public static func age(seconds: Double?) -> String {
        guard let seconds else { return "-" }
        switch seconds {
        case ..<1: return String(format: "%.0fms", seconds * 1000)
        case ..<120: return String(format: "%.1fs", seconds)
        case ..<7200: return String(format: "%.0fm", seconds / 60)
        default: return String(format: "%.1fh", seconds / 3600)
        }
    }
}
