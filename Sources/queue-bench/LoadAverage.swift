import Foundation

/// The 1-minute load average from /proc/loadavg: the suite prints it before and after,
/// since other work on the machine shares its cores with the server and the clients.
enum LoadAverage {
    static func oneMinute() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }
}
