import Foundation
import XCTest

@testable import JobQueue

final class CronScheduleTests: XCTestCase {
    private let utc = TimeZone(identifier: "UTC")!
    private let newYork = TimeZone(identifier: "America/New_York")!
    private let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    // MARK: - Helpers

    private func instant(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Date {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else {
            XCTFail("bad test date \(text)", file: file, line: line)
            return Date(timeIntervalSince1970: 0)
        }
        return date
    }

    private func iso(_ date: Date?) -> String? {
        guard let date else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = utc
        return formatter.string(from: date)
    }

    /// The next `count` fire times after `start`, as UTC ISO strings.
    private func fires(
        _ expression: String, in zone: TimeZone? = nil, after start: String, count: Int = 1,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> [String] {
        let schedule = try CronSchedule(expression, timeZone: zone ?? utc)
        var result: [String] = []
        var current = instant(start, file: file, line: line)
        for _ in 0..<count {
            guard let next = schedule.nextFireTime(after: current) else { break }
            XCTAssertGreaterThan(next, current, "strictly after", file: file, line: line)
            result.append(iso(next)!)
            current = next
        }
        return result
    }

    private func parseError(_ expression: String) -> String? {
        do {
            _ = try CronSchedule(expression, timeZone: utc)
            return nil
        } catch {
            return error.description
        }
    }

    // MARK: - Syntax

    func testEveryMinuteIsStrictlyAfter() throws {
        XCTAssertEqual(
            try fires("* * * * *", after: "2024-05-01T10:00:00Z", count: 3),
            ["2024-05-01T10:01:00Z", "2024-05-01T10:02:00Z", "2024-05-01T10:03:00Z"])
        let schedule = try CronSchedule("* * * * *", timeZone: utc)
        let withFraction = instant("2024-05-01T10:00:59Z").addingTimeInterval(0.75)
        XCTAssertEqual(iso(schedule.nextFireTime(after: withFraction)), "2024-05-01T10:01:00Z")
    }

    func testSingleValuesAndLists() throws {
        XCTAssertEqual(
            try fires("5,35 9,17 * * *", after: "2024-05-01T09:05:00Z", count: 4),
            ["2024-05-01T09:35:00Z", "2024-05-01T17:05:00Z", "2024-05-01T17:35:00Z", "2024-05-02T09:05:00Z"])
    }

    func testRangesAndSteps() throws {
        XCTAssertEqual(
            try fires("*/20 * * * *", after: "2024-05-01T10:00:00Z", count: 4),
            ["2024-05-01T10:20:00Z", "2024-05-01T10:40:00Z", "2024-05-01T11:00:00Z", "2024-05-01T11:20:00Z"])
        XCTAssertEqual(
            try fires("0 8-10 * * *", after: "2024-05-01T09:30:00Z", count: 3),
            ["2024-05-01T10:00:00Z", "2024-05-02T08:00:00Z", "2024-05-02T09:00:00Z"])
        XCTAssertEqual(
            try fires("10-40/15 * * * *", after: "2024-05-01T10:00:00Z", count: 4),
            ["2024-05-01T10:10:00Z", "2024-05-01T10:25:00Z", "2024-05-01T10:40:00Z", "2024-05-01T11:10:00Z"])
        // n/step runs from n to the field's end.
        XCTAssertEqual(
            try fires("50/5 * * * *", after: "2024-05-01T10:00:00Z", count: 3),
            ["2024-05-01T10:50:00Z", "2024-05-01T10:55:00Z", "2024-05-01T11:50:00Z"])
        XCTAssertEqual(
            try fires("0 0 1 */4 *", after: "2024-01-15T00:00:00Z", count: 3),
            ["2024-05-01T00:00:00Z", "2024-09-01T00:00:00Z", "2025-01-01T00:00:00Z"])
    }

    func testMonthAndWeekdayNamesAnyCase() throws {
        // 2024-05-01 is a Wednesday.
        XCTAssertEqual(
            try fires("0 9 * * MON-fri", after: "2024-05-03T12:00:00Z", count: 2),
            ["2024-05-06T09:00:00Z", "2024-05-07T09:00:00Z"])
        XCTAssertEqual(
            try fires("0 0 1 Jan,jul *", after: "2024-02-01T00:00:00Z", count: 2),
            ["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
        XCTAssertEqual(
            try CronSchedule("0 0 * mar-may sun", timeZone: utc),
            try CronSchedule("0 0 * mar-may sun", timeZone: utc))
        let named = try CronSchedule("0 0 * MAR-May Sun", timeZone: utc)
        let numbered = try CronSchedule("0 0 * 3-5 0", timeZone: utc)
        XCTAssertEqual(named.months, numbered.months)
        XCTAssertEqual(named.daysOfWeek, numbered.daysOfWeek)
    }

    func testSundayIsZeroAndSeven() throws {
        let zero = try CronSchedule("0 0 * * 0", timeZone: utc)
        let seven = try CronSchedule("0 0 * * 7", timeZone: utc)
        XCTAssertEqual(zero.daysOfWeek, seven.daysOfWeek)
        // 2024-05-05 is a Sunday.
        XCTAssertEqual(try fires("0 0 * * 7", after: "2024-05-01T00:00:00Z"), ["2024-05-05T00:00:00Z"])
        XCTAssertEqual(
            try fires("0 0 * * 5-7", after: "2024-05-01T00:00:00Z", count: 4),
            ["2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z", "2024-05-05T00:00:00Z", "2024-05-10T00:00:00Z"])
    }

    func testMacros() throws {
        let start = "2024-05-15T10:30:00Z"
        XCTAssertEqual(try fires("@yearly", after: start), ["2025-01-01T00:00:00Z"])
        XCTAssertEqual(try fires("@annually", after: start), ["2025-01-01T00:00:00Z"])
        XCTAssertEqual(try fires("@monthly", after: start), ["2024-06-01T00:00:00Z"])
        XCTAssertEqual(try fires("@weekly", after: start), ["2024-05-19T00:00:00Z"])
        XCTAssertEqual(try fires("@daily", after: start), ["2024-05-16T00:00:00Z"])
        XCTAssertEqual(try fires("@midnight", after: start), ["2024-05-16T00:00:00Z"])
        XCTAssertEqual(try fires("@HOURLY", after: start), ["2024-05-15T11:00:00Z"])
        XCTAssertEqual(try CronSchedule("@daily", timeZone: utc).expression, "@daily")
    }

    func testSecondsField() throws {
        XCTAssertEqual(
            try fires("*/15 * * * * *", after: "2024-05-01T10:00:50Z", count: 3),
            ["2024-05-01T10:01:00Z", "2024-05-01T10:01:15Z", "2024-05-01T10:01:30Z"])
        XCTAssertEqual(
            try fires("30 0 12 * * *", after: "2024-05-01T12:00:30Z", count: 2),
            ["2024-05-02T12:00:30Z", "2024-05-03T12:00:30Z"])
        XCTAssertEqual(
            try fires("* * * * * *", after: "2024-12-31T23:59:58Z", count: 2),
            ["2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"])
    }

    // MARK: - Day rule

    func testVixieOrRuleWhenBothDayFieldsAreRestricted() throws {
        // The 13th of each month OR any Friday. 2024-09-13 is a Friday; 2024-10-13 a Sunday.
        XCTAssertEqual(
            try fires("0 0 13 * fri", after: "2024-09-01T00:00:00Z", count: 7),
            [
                "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z",
                "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z",
            ])
    }

    func testAndRuleWhenOneDayFieldIsWildcard() throws {
        // Only day-of-week restricted: Mondays.
        XCTAssertEqual(
            try fires("0 0 * * 1", after: "2024-09-01T00:00:00Z", count: 2),
            ["2024-09-02T00:00:00Z", "2024-09-09T00:00:00Z"])
        // A field starting with `*` counts as unrestricted, as in Vixie cron:
        // odd days of the month that are also Mondays.
        XCTAssertEqual(
            try fires("0 0 */2 * mon", after: "2024-09-01T00:00:00Z", count: 3),
            ["2024-09-09T00:00:00Z", "2024-09-23T00:00:00Z", "2024-10-07T00:00:00Z"])
    }

    // MARK: - Calendar boundaries

    func testYearAndMonthBoundaries() throws {
        XCTAssertEqual(
            try fires("0 0 * * *", after: "2024-12-31T00:00:00Z", count: 2),
            ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"])
        XCTAssertEqual(
            try fires("59 23 31 12 *", after: "2024-12-31T23:59:00Z"), ["2025-12-31T23:59:00Z"])
        // The 31st skips months that lack one.
        XCTAssertEqual(
            try fires("0 0 31 * *", after: "2024-01-31T00:00:00Z", count: 3),
            ["2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z"])
    }

    func testDatesBeforeTheEpochAndFarAhead() throws {
        XCTAssertEqual(
            try fires("0 0 1 1 *", after: "1960-06-01T00:00:00Z", count: 2),
            ["1961-01-01T00:00:00Z", "1962-01-01T00:00:00Z"])
        XCTAssertEqual(try fires("0 12 * * sun", after: "1969-12-31T23:00:00Z"), ["1970-01-04T12:00:00Z"])
        XCTAssertEqual(try fires("@yearly", after: "2999-06-01T00:00:00Z"), ["3000-01-01T00:00:00Z"])
    }

    func testLeapDayOnlyInLeapYears() throws {
        XCTAssertEqual(
            try fires("0 0 29 2 *", after: "2023-03-01T00:00:00Z", count: 3),
            ["2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
        // 2100 is not a leap year; 2000 was.
        XCTAssertEqual(
            try fires("0 0 29 2 *", after: "2096-03-01T00:00:00Z"), ["2104-02-29T00:00:00Z"])
        XCTAssertEqual(
            try fires("0 0 29 2 *", after: "1999-01-01T00:00:00Z"), ["2000-02-29T00:00:00Z"])
        // Day after Feb 28 in a common year is March 1.
        XCTAssertEqual(
            try fires("0 0 * 2,3 *", after: "2023-02-28T00:00:00Z"), ["2023-03-01T00:00:00Z"])
    }

    func testImpossibleScheduleReturnsNilQuickly() throws {
        let start = Date()
        for expression in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 31 2 *", "*/5 * * 30,31 feb *"] {
            let schedule = try CronSchedule(expression, timeZone: newYork)
            XCTAssertNil(schedule.nextFireTime(after: instant("2024-01-01T00:00:00Z")), expression)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "the bounded search is cheap")
        // Restricted weekdays make Feb 30 reachable again through the OR rule.
        XCTAssertEqual(try fires("0 0 30 2 mon", after: "2024-01-31T00:00:00Z"), ["2024-02-05T00:00:00Z"])
    }

    // MARK: - Time zones

    func testAsiaShanghaiHasNoDaylightSaving() throws {
        // 09:00 in Shanghai is 01:00 UTC all year.
        XCTAssertEqual(
            try fires("0 9 * * *", in: shanghai, after: "2024-01-01T00:00:00Z", count: 2),
            ["2024-01-01T01:00:00Z", "2024-01-02T01:00:00Z"])
        XCTAssertEqual(
            try fires("0 9 * * *", in: shanghai, after: "2024-07-01T02:00:00Z"), ["2024-07-02T01:00:00Z"])
        // Local midnight of the local New Year, the day before in UTC.
        XCTAssertEqual(
            try fires("0 0 1 1 *", in: shanghai, after: "2024-06-01T00:00:00Z"), ["2024-12-31T16:00:00Z"])
        // The wall-clock day decides the weekday: 2024-05-06 00:30 Shanghai (Monday) is Sunday in UTC.
        XCTAssertEqual(
            try fires("30 0 * * mon", in: shanghai, after: "2024-05-01T00:00:00Z"), ["2024-05-05T16:30:00Z"])
    }

    func testNewYorkSpringForwardGapFiresAtTheTransition() throws {
        // 2024-03-10: clocks jump from 02:00 EST (07:00Z) to 03:00 EDT.
        XCTAssertEqual(
            try fires("30 2 * * *", in: newYork, after: "2024-03-09T12:00:00Z", count: 3),
            ["2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"])
        // Every 30 minutes: the skipped 02:00 and 02:30 collapse into one firing at 03:00 EDT.
        XCTAssertEqual(
            try fires("*/30 * * * *", in: newYork, after: "2024-03-10T06:00:00Z", count: 4),
            ["2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z", "2024-03-10T07:30:00Z", "2024-03-10T08:00:00Z"])
        // Times outside the gap are unaffected.
        XCTAssertEqual(
            try fires("0 9 * * *", in: newYork, after: "2024-03-09T15:00:00Z", count: 2),
            ["2024-03-10T13:00:00Z", "2024-03-11T13:00:00Z"])
    }

    func testNewYorkFallBackRepeatedHourFiresOnce() throws {
        // 2024-11-03: 01:00–01:59 happens twice, first EDT (05:00Z) then EST (06:00Z).
        XCTAssertEqual(
            try fires("30 1 * * *", in: newYork, after: "2024-11-02T12:00:00Z", count: 2),
            ["2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"])
        XCTAssertEqual(
            try fires("*/30 * * * *", in: newYork, after: "2024-11-03T04:00:00Z", count: 5),
            [
                "2024-11-03T04:30:00Z", "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z",
                // 01:00 and 01:30 EST repeat local times already fired: next is 02:00 EST.
                "2024-11-03T07:00:00Z", "2024-11-03T07:30:00Z",
            ])
        // Asked from inside the second pass of the repeated hour, it does not fire again.
        XCTAssertEqual(
            try fires("45 1 * * *", in: newYork, after: "2024-11-03T06:10:00Z"), ["2024-11-04T06:45:00Z"])
        XCTAssertEqual(
            try fires("*/15 * * * *", in: newYork, after: "2024-11-03T06:10:00Z"), ["2024-11-03T07:00:00Z"])
    }

    func testSecondsScheduleAcrossBothTransitions() throws {
        // Every 20 s through the spring-forward gap: 01:59:40 EST, then the gap end.
        XCTAssertEqual(
            try fires("*/20 * * * * *", in: newYork, after: "2024-03-10T06:59:30Z", count: 3),
            ["2024-03-10T06:59:40Z", "2024-03-10T07:00:00Z", "2024-03-10T07:00:20Z"])
        // Through the fall-back: after 01:59:40 EDT the repeated hour is skipped.
        XCTAssertEqual(
            try fires("*/20 * * * * *", in: newYork, after: "2024-11-03T05:59:30Z", count: 2),
            ["2024-11-03T05:59:40Z", "2024-11-03T07:00:00Z"])
    }

    func testEverySecondIsCheapToStep() throws {
        let schedule = try CronSchedule("* * * * * *", timeZone: newYork)
        var current = instant("2024-11-03T04:00:00Z")
        let started = Date()
        for _ in 0..<10_000 {
            current = try XCTUnwrap(schedule.nextFireTime(after: current))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // 10 000 s after 00:00 EDT, minus the repeated hour that is not fired again.
        XCTAssertEqual(iso(current), "2024-11-03T07:46:40Z")
    }

    func testMonotonicSequenceAcrossTransitions() throws {
        let expressions = ["*/7 * * * *", "0 */3 * * *", "15 1-3 * * *", "0 0 13 * fri", "*/10 * 1-3 * * *"]
        for zone in [newYork, shanghai, utc, TimeZone(identifier: "Australia/Lord_Howe")!] {
            for expression in expressions {
                let schedule = try CronSchedule(expression, timeZone: zone)
                var current = instant("2024-03-08T00:00:00Z")
                var steps = 0
                while steps < 600, let next = schedule.nextFireTime(after: current) {
                    XCTAssertGreaterThan(next, current, "\(expression) in \(zone.identifier)")
                    // Every fire time either matches the fields on the local wall
                    // clock or is the end of a daylight-saving gap.
                    let local = Int64(next.timeIntervalSince1970) + Int64(zone.secondsFromGMT(for: next))
                    let matched = schedule.nextLocalTime(atOrAfter: local) == local
                    let afterGap = zone.secondsFromGMT(for: next) != zone.secondsFromGMT(for: next - 1)
                    XCTAssertTrue(matched || afterGap, "\(expression) in \(zone.identifier): \(iso(next)!)")
                    current = next
                    steps += 1
                }
                XCTAssertEqual(steps, 600)
            }
        }
    }

    func testChangingTheTimeZoneMovesFireTimes() throws {
        var schedule = try CronSchedule("0 9 * * *", timeZone: utc)
        schedule.timeZone = shanghai
        XCTAssertEqual(iso(schedule.nextFireTime(after: instant("2024-01-01T00:00:00Z"))), "2024-01-01T01:00:00Z")
    }

    // MARK: - Errors

    func testInvalidExpressionsNameFieldAndToken() {
        let cases: [(String, String)] = [
            ("61 * * * *", "minute field: 61 is out of range 0–59"),
            ("0 24 * * *", "hour field: 24 is out of range 0–23"),
            ("0 0 0 * *", "day-of-month field: 0 is out of range 1–31"),
            ("0 0 32 * *", "day-of-month field: 32 is out of range 1–31"),
            ("0 0 * 13 *", "month field: 13 is out of range 1–12"),
            ("0 0 * * 8", "day-of-week field: 8 is out of range 0–7"),
            ("60 0 0 * * *", "second field: 60 is out of range 0–59"),
            ("0 0 * foo *", "month field: \"foo\" is not a number or month name (jan–dec)"),
            ("0 0 * * funday", "day-of-week field: \"funday\" is not a number or day name (sun–sat)"),
            ("0 0 * * jan", "day-of-week field: \"jan\" is not a number or day name (sun–sat)"),
            ("x * * * *", "minute field: \"x\" is not a number"),
            ("*/0 * * * *", "minute field: step 0 in \"*/0\" must be at least 1"),
            ("*/x * * * *", "minute field: step \"x\" in \"*/x\" is not a number"),
            ("1/2/3 * * * *", "minute field: \"1/2/3\" has more than one step"),
            ("0 5-2 * * *", "hour field: range 5-2 is reversed"),
            ("0 -1 * * *", "hour field: \"-1\" is not a valid range"),
            ("1,,2 * * * *", "minute field: empty list element in \"1,,2\""),
            ("99999999999999999999 * * * *", "minute field: 99999999999999999999 is out of range 0–59"),
            (
                "* * *",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 3 in \"* * *\""
            ),
            (
                "",
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 0 in \"\""
            ),
            ("@reboot", "unknown macro \"@reboot\""),
        ]
        for (expression, message) in cases {
            XCTAssertEqual(parseError(expression), message, expression)
        }
        do {
            _ = try CronSchedule("0 0 * * 9", timeZone: utc)
            XCTFail("accepted an invalid weekday")
        } catch {
            XCTAssertEqual(error.field, .dayOfWeek)
            XCTAssertEqual(error.token, "9")
        }
    }

    func testWhitespaceIsFlexible() throws {
        XCTAssertEqual(try fires("  0\t9  * *   * ", after: "2024-05-01T00:00:00Z"), ["2024-05-01T09:00:00Z"])
    }
}
