public import Foundation

/// A time as people read it: wall-clock time in a given zone, with the zone named,
/// e.g. "2026-12-05 21:30:00 Asia/Shanghai (UTC+08:00)". Independent of the
/// server's zone and locale.
public enum ZonedTimeText {
    public static func format(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let offset = zone.secondsFromGMT(for: date)
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        let wallClock = String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        let utcOffset = "UTC" + sign + String(format: "%02d:%02d", minutes / 60, minutes % 60)
        return "\(wallClock) \(zone.identifier) (\(utcOffset))"
    }
}
