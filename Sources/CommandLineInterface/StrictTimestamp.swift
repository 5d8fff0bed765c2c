public import Foundation

/// ISO 8601 times as the command line takes them, checked rather than normalised.
///
/// Foundation's `ISO8601DateFormatter` turns 2026-02-30 into 2 March and accepts
/// offsets such as +25:00; a payout or a schedule built on such a time would be
/// silently wrong. The one form accepted is `YYYY-MM-DDTHH:MM:SS[.fraction]`
/// followed by `Z` or `±HH:MM`, with every field in its real range (years 1970 to
/// 9999, days that exist in their month, offsets up to 14 hours).
public enum StrictTimestamp {
    /// The date, or nil when `text` is not such a time.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var position = 0
        func number(_ width: Int) -> Int? {
            guard position + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<position + width] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += width
            return value
        }
        func literal(_ character: Character) -> Bool {
            guard position < bytes.count, bytes[position] == character.asciiValue else { return false }
            position += 1
            return true
        }
        guard let year = number(4), literal("-"), let month = number(2), literal("-"), let day = number(2),
            literal("T"), let hour = number(2), literal(":"), let minute = number(2), literal(":"),
            let second = number(2),
            (1970...9999).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        var fraction = 0.0
        if literal(".") {
            var scale = 0.1
            let start = position
            while let digit = number(1) {
                fraction += Double(digit) * scale
                scale /= 10
            }
            guard position > start, position - start <= 9 else { return nil }
        }
        let offsetSeconds: Int
        if literal("Z") {
            offsetSeconds = 0
        } else {
            let sign = literal("+") ? 1 : (literal("-") ? -1 : 0)
            guard sign != 0, let offsetHours = number(2), literal(":"), let offsetMinutes = number(2),
                (0...59).contains(offsetMinutes), offsetHours * 60 + offsetMinutes <= 14 * 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard position == bytes.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Seconds for `30s`, `10m`, `2h`, `1d` (decimals allowed), at most 3660 days; nil otherwise.
    public static func delay(_ text: Substring) -> TimeInterval? {
        guard let unit = text.last, let amount = StrictNumber.decimal(String(text.dropLast())), amount >= 0 else {
            return nil
        }
        let seconds: Double
        switch unit {
        case "s": seconds = amount
        case "m": seconds = amount * 60
        case "h": seconds = amount * 3600
        case "d": seconds = amount * 86_400
        default: return nil
        }
        return seconds <= 3660 * 86_400 ? seconds : nil
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the date (proleptic Gregorian), by the civil-from-days inverse.
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
