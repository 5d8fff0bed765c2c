public import Foundation

/// Days, weeks, months and hours as people read them: in the platform's business
/// time zone (Asia/Shanghai unless configured), never the server's or the
/// database session's. Every calendar period, window and expiry is computed here
/// and handed to SQL as instants, so the session's `TimeZone` setting changes
/// nothing. Month arithmetic clamps to the month's end (31 January + 1 month is
/// 28 or 29 February; 29 February + 12 months is 28 February).
public struct BusinessCalendar: Sendable {
    public let timeZone: TimeZone
    private let calendar: Calendar

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.locale = Locale(identifier: "en_US_POSIX")
        self.calendar = calendar
    }

    /// Asia/Shanghai.
    public static let `default` = BusinessCalendar(timeZone: TimeZone(identifier: BusinessTimeZone.defaultIdentifier)!)

    /// `date` moved by whole calendar months at the same local time, clamped to the
    /// month's last day. Computed from the local date's parts: Foundation's
    /// `date(byAdding: .month)` goes wrong backwards across leap days (29 February
    /// 2028 − 24 months gives 1 March 2026).
    public func adding(months: Int, to date: Date) -> Date {
        var parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        var (year, monthIndex) = (parts.year! * 12 + parts.month! - 1 + months).quotientAndRemainder(dividingBy: 12)
        if monthIndex < 0 { (year, monthIndex) = (year - 1, monthIndex + 12) }
        let firstDay = calendar.date(from: DateComponents(year: year, month: monthIndex + 1, day: 1))!
        let length = calendar.range(of: .day, in: .month, for: firstDay)!.count
        parts.year = year
        parts.month = monthIndex + 1
        parts.day = min(parts.day!, length)
        return calendar.date(from: parts)!
    }

    /// `date` moved by whole calendar days at the same local time.
    public func adding(days: Int, to date: Date) -> Date {
        calendar.date(byAdding: .day, value: days, to: date)!
    }

    public func startOfDay(_ date: Date) -> Date {
        calendar.startOfDay(for: date)
    }

    /// The instant `day` begins (its first moment, usually midnight).
    public func start(of day: BusinessDay) -> Date {
        calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))!
    }

    /// The business day `date` falls on.
    public func businessDay(of date: Date) -> BusinessDay {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return BusinessDay(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    /// `hour`:00 local on the day of `date`.
    public func moment(hour: Int, onDayOf date: Date) -> Date {
        calendar.date(bySettingHour: hour, minute: 0, second: 0, of: date)!
    }

    public func hour(of date: Date) -> Int {
        calendar.component(.hour, from: date)
    }

    /// The local date, e.g. 2026-11-23.
    public func day(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// The local time of day, e.g. 09:30.
    public func timeOfDay(_ date: Date) -> String {
        String(format: "%02d:%02d", calendar.component(.hour, from: date), calendar.component(.minute, from: date))
    }

    /// Local calendar days from `from`'s day to `to`'s day (1: `to` is tomorrow).
    public func daysBetween(_ from: Date, _ to: Date) -> Int {
        calendar.dateComponents([.day], from: startOfDay(from), to: startOfDay(to)).day!
    }

    /// The day of `moment` as a person reads it in a message sent at `now`:
    /// 今天, 明天, 后天, or the month and day (11月23日).
    public func dayWord(for moment: Date, seenAt now: Date) -> String {
        switch daysBetween(now, moment) {
        case 0: "今天"
        case 1: "明天"
        case 2: "后天"
        default: monthDay(moment)
        }
    }

    /// 11月23日.
    public func monthDay(_ date: Date) -> String {
        "\(calendar.component(.month, from: date))月\(calendar.component(.day, from: date))日"
    }
}
