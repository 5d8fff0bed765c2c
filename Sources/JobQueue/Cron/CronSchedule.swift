public import Foundation

/// A cron schedule evaluated in a fixed time zone, so "9 every morning" means the
/// local 9:00 of the people the job serves whatever zone the worker runs in.
///
/// Syntax: five fields `minute hour day-of-month month day-of-week`, or six with a
/// leading `second` field. Each field is a comma list of `*`, `n`, `a-b`, with an
/// optional `/step` (`n/step` runs from `n` to the field's maximum). Months take
/// `jan`–`dec`, weekdays `sun`–`sat` (any case); weekday 0 and 7 are both Sunday.
/// Macros: `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`.
///
/// Day rule, as in Vixie cron: when both day fields are restricted, a day matches
/// if *either* does (`0 0 13 * fri` = every 13th and every Friday). A field counts as
/// unrestricted when its text starts with `*`, so `*/2` in one day field combines
/// with the other by AND, exactly as Vixie cron does.
///
/// Daylight saving time: a local time skipped by a spring-forward gap fires at the
/// first instant after the gap (the transition itself), so a daily 02:30 job still
/// runs that day; several skipped times collapse into that one firing. A local time
/// repeated by a fall-back fires once, at its first occurrence.
public struct CronSchedule: Sendable, Equatable {
    /// The expression exactly as given.
    public let expression: String
    public var timeZone: TimeZone

    let seconds: CronField
    let minutes: CronField
    let hours: CronField
    let daysOfMonth: CronField
    let months: CronField
    let daysOfWeek: CronField

    public init(_ expression: String, timeZone: TimeZone) throws(CronParseError) {
        self.expression = expression
        self.timeZone = timeZone
        let trimmed = UnicodeText.trimmed(expression)
        let text: String
        if trimmed.hasPrefix("@") {
            guard let expansion = Self.macros[trimmed.lowercased()] else {
                throw CronParseError(field: nil, token: trimmed, reason: "unknown macro \"\(trimmed)\"")
            }
            text = expansion
        } else {
            text = trimmed
        }
        let fields = text.split(whereSeparator: { UnicodeText.isBlank(String($0)) })
        guard fields.count == 5 || fields.count == 6 else {
            throw CronParseError(
                field: nil, token: expression,
                reason: "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, "
                    + "got \(fields.count) in \"\(expression)\"")
        }
        let rest = fields.count == 6 ? fields.dropFirst() : fields[...]
        seconds =
            try fields.count == 6 ? CronField.parse(fields[0], as: .second) : CronField(bits: 1, isWildcard: false)
        minutes = try CronField.parse(rest[rest.startIndex], as: .minute)
        hours = try CronField.parse(rest[rest.startIndex + 1], as: .hour)
        daysOfMonth = try CronField.parse(rest[rest.startIndex + 2], as: .dayOfMonth)
        months = try CronField.parse(rest[rest.startIndex + 3], as: .month)
        daysOfWeek = try CronField.parse(rest[rest.startIndex + 4], as: .dayOfWeek)
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// The first fire time strictly after `date`, or nil when the schedule can never
    /// fire (e.g. February 30) — known after searching one 400-year Gregorian cycle,
    /// after which the calendar, weekdays included, repeats.
    public func nextFireTime(after date: Date) -> Date? {
        let interval = date.timeIntervalSince1970
        guard interval.isFinite, abs(interval) < 1e14 else { return nil }
        let after = Int64(interval.rounded(.down))
        // Local times up to the wall-clock reading of `after` map to instants at or
        // before it (the local-to-instant mapping below is monotonic), so start one
        // second later on the wall clock.
        var cursor = after + offset(at: after) + 1
        // Only a repeated (fall-back) hour can send the loop round again, and the jump
        // past it means two rounds suffice; the bound is a guard against odd zone data.
        for _ in 0..<16 {
            guard let local = nextLocalTime(atOrAfter: cursor) else { return nil }
            let instants = instants(forLocal: local)
            let instant = instants.valid.first ?? gapEnd(forLocal: local, offsets: instants.offsets)
            if instant > after { return Date(timeIntervalSince1970: TimeInterval(instant)) }
            // `local` first occurred before `after`: we are in the second pass of a
            // repeated hour, whose times already fired. Skip to the end of it.
            cursor = local + 1
            if instants.valid.count > 1 {
                let first = instants.valid[0]
                let transition = firstOffsetChange(after: first, upTo: instants.valid[1])
                cursor = max(cursor, transition + offset(at: first))
            }
        }
        return nil
    }

    // MARK: - Wall-clock search

    /// The first matching wall-clock time at or after `local`, both as seconds since
    /// 1970-01-01 00:00 *local*. Jumps field by field: month, day, hour, minute, second.
    func nextLocalTime(atOrAfter local: Int64) -> Int64? {
        let startDay = Self.floorDiv(local, 86_400)
        var secondOfDay = Int(local - startDay * 86_400)
        var (year, month, day) = Self.civil(fromDays: startDay)
        var hour = secondOfDay / 3600
        var minute = secondOfDay % 3600 / 60
        var second = secondOfDay % 60
        let lastYear = year + 401
        while year <= lastYear {
            guard let nextMonth = months.next(atOrAfter: month) else {
                (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0)
                continue
            }
            if nextMonth != month { (month, day, hour, minute, second) = (nextMonth, 1, 0, 0, 0) }
            let length = Self.daysIn(month: month, year: year)
            while day <= length, !dayMatches(year: year, month: month, day: day) {
                (day, hour, minute, second) = (day + 1, 0, 0, 0)
            }
            if day > length {
                (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0)
                continue
            }
            guard let nextHour = hours.next(atOrAfter: hour) else {
                (day, hour, minute, second) = (day + 1, 0, 0, 0)
                continue
            }
            if nextHour != hour { (hour, minute, second) = (nextHour, 0, 0) }
            guard let nextMinute = minutes.next(atOrAfter: minute) else {
                (hour, minute, second) = (hour + 1, 0, 0)
                continue
            }
            if nextMinute != minute { (minute, second) = (nextMinute, 0) }
            guard let nextSecond = seconds.next(atOrAfter: second) else {
                (minute, second) = (minute + 1, 0)
                continue
            }
            secondOfDay = hour * 3600 + minute * 60 + nextSecond
            return Int64(Self.days(year: year, month: month, day: day)) * 86_400 + Int64(secondOfDay)
        }
        return nil
    }

    func dayMatches(year: Int, month: Int, day: Int) -> Bool {
        let weekday = Int(Self.floorMod(Int64(Self.days(year: year, month: month, day: day)) + 4, 7))  // 1970-01-01 was a Thursday
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(weekday)
        if daysOfMonth.isWildcard || daysOfWeek.isWildcard { return dayOfMonth && dayOfWeek }
        return dayOfMonth || dayOfWeek
    }

    // MARK: - Wall clock to instant

    func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The instants whose wall clock reads `local` (none in a gap, two in a repeated
    /// hour), and the UTC offsets in force around it. Any such instant lies within
    /// 14 hours of `local` read as UTC, so offsets sampled across that window find it.
    func instants(forLocal local: Int64) -> (valid: [Int64], offsets: [Int64]) {
        let offsets = Set([offset(at: local - 15 * 3600), offset(at: local), offset(at: local + 15 * 3600)])
        let valid = offsets.map { local - $0 }.filter { offset(at: $0) == local - $0 }
        return (Array(Set(valid)).sorted(), offsets.sorted())
    }

    /// Where the clock resumes after the gap that skipped `local`: the transition.
    func gapEnd(forLocal local: Int64, offsets: [Int64]) -> Int64 {
        // Before the gap the smaller offset applied, after it the larger one.
        let before = local - (offsets.last ?? 0)
        let after = local - (offsets.first ?? 0)
        return firstOffsetChange(after: before, upTo: after)
    }

    /// The earliest instant in `(start, end]` whose offset differs from the one at
    /// `start` (`end` if none), by bisection: transitions are at most hours apart here.
    func firstOffsetChange(after start: Int64, upTo end: Int64) -> Int64 {
        let initial = offset(at: start)
        var low = start
        var high = end
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == initial { low = middle } else { high = middle }
        }
        return high
    }

    // MARK: - Proleptic Gregorian arithmetic
    // Plain integer arithmetic keeps the search free of Calendar and its time-zone
    // rules; the zone only enters when a wall-clock candidate becomes an instant.

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    static func floorMod(_ value: Int64, _ divisor: Int64) -> Int64 {
        value - floorDiv(value, divisor) * divisor
    }

    static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01. Counts years from March so the leap day falls last.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let marchMonth = (month + 9) % 12
        let dayOfYear = (153 * marchMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `days(year:month:day:)`.
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = Int(days) + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
        let month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
