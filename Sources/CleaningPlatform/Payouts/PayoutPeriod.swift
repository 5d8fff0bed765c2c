public import Foundation

/// An ISO week ("2026-W47"): Monday 00:00 to the next Monday 00:00 in the
/// business time zone.
public struct PayoutPeriod: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var start: Date
    public var end: Date

    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var description: String { "\"\(text)\" is not an ISO week like 2026-W47 (weeks 01–53)" }
    }

    public init(_ text: String, timeZone: TimeZone) throws {
        // Exactly YYYY-Www in ASCII digits: no sign, no spaces, no compact or day form.
        let bytes = Array(text.utf8)
        let digitPositions = [0, 1, 2, 3, 6, 7]
        guard bytes.count == 8, bytes[4] == UInt8(ascii: "-"), bytes[5] == UInt8(ascii: "W"),
            digitPositions.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }),
            let year = Int(text.prefix(4)), let week = Int(text.suffix(2)),
            (2000...2200).contains(year), (1...53).contains(week)
        else { throw Invalid(text: text) }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        guard
            let start = calendar.date(from: DateComponents(
                weekday: 2, weekOfYear: week, yearForWeekOfYear: year)),
            calendar.component(.weekOfYear, from: start) == week,
            let end = calendar.date(byAdding: .day, value: 7, to: start)
        else { throw Invalid(text: text) }
        self.name = String(format: "%04d-W%02d", year, week)
        self.start = start
        self.end = end
    }

    /// The ISO week before the one containing `date` ("last week").
    public static func previous(to date: Date, timeZone: TimeZone) -> PayoutPeriod {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        let lastWeek = calendar.date(byAdding: .day, value: -7, to: date)!
        let year = calendar.component(.yearForWeekOfYear, from: lastWeek)
        let week = calendar.component(.weekOfYear, from: lastWeek)
        return try! PayoutPeriod(String(format: "%04d-W%02d", year, week), timeZone: timeZone)
    }

    public var description: String { name }
}
