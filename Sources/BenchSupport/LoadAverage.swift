import Foundation

/// The 1-minute load average from /proc/loadavg: every benchmark prints it before and
/// after, since other work on the machine shares its cores with the server and the clients.
public enum LoadAverage {
    public static func oneMinute() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// "1.23", or "?" where it cannot be read.
    public static func text(places: Int = 2) -> String {
        oneMinute().map { Format.decimal($0, places: places) } ?? "?"
    }
}
