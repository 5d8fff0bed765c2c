import CleaningPlatform
import Foundation
import HTTPServer
import PostgresClient

/// The platform's daily statistics (the rollup tables of 0015), one row per
/// business day of the range asked for (the last two weeks by default), the days
/// being those of the business time zone, which the page names.
extension ConsoleApplication {
    /// The longest range one page shows.
    static let longestStatisticsRange = 92

    func statistics(_ request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        let calendar = BusinessCalendar(timeZone: timeZone)
        let now = Date()
        let to = try request.fields["to"].map { try Self.businessDay($0, field: "to") } ?? calendar.businessDay(of: now)
        let from = try request.fields["from"].map { try Self.businessDay($0, field: "from") }
            ?? calendar.businessDay(of: calendar.adding(days: -13, to: calendar.start(of: to)))
        guard from <= to else { throw Refusal(status: 400, message: "from \(from) is after to \(to); give the earlier day first.") }
        guard from.days(to: to) < Self.longestStatisticsRange else {
            throw Refusal(status: 400, message: "Ask for at most \(Self.longestStatisticsRange) days at a time.")
        }
        let statistics = try await database.pool(for: page.session!.role).withConnection {
            try PlatformStatistics.read(from: from, to: to, on: $0)
        }
        var body = "<form class=\"filters\" method=\"get\" action=\"/statistics\">"
        body += "<label>\(page.t("From"))<input type=\"date\" name=\"from\" value=\"\(from)\"></label>"
        body += "<label>\(page.t("To"))<input type=\"date\" name=\"to\" value=\"\(to)\"></label>"
        body += "<button>\(page.t("Show"))</button></form>"
        body += "<p class=\"notice\" id=\"zone\">\(page.t("Days of the business time zone")): \(HTMLText.escape(timeZone.identifier))</p>"
        let headings = [
            "Day", "Orders placed", "Completed", "Cancelled", "GMV", "Paid", "Refunded", "New customers",
            "Active customers", "Returning", "Active cleaners", "Service minutes", "Utilisation", "Reviews", "Rating",
            "Cleaner income",
        ]
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"statistics\"><thead><tr>"
        for (index, heading) in headings.enumerated() { body += "<th\(index == 0 ? "" : " class=\"n\"")>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for day in statistics.days.reversed() {
            let cells = [
                "\(day.ordersPlaced)", "\(day.ordersCompleted)", "\(day.ordersCancelled)", PayoutReport.yuan(day.gmvFen),
                PayoutReport.yuan(day.paidFen), PayoutReport.yuan(day.refundedFen), "\(day.newCustomers)",
                "\(day.activeCustomers)", "\(day.returningCustomers)", "\(day.activeCleaners)", "\(day.serviceMinutes)",
                Self.hundredths(day.utilisationBasisPoints) + " %", "\(day.reviews)",
                day.reviews == 0 ? "—" : Self.hundredths(day.ratingHundredths), PayoutReport.yuan(day.cleanerIncomeFen),
            ]
            body += "<tr><th data-label=\"\(page.t("Day"))\">\(HTMLText.escape(day.day))</th>"
            for (heading, cell) in zip(headings.dropFirst(), cells) {
                body += "<td class=\"n\" data-label=\"\(page.t(heading))\">\(HTMLText.escape(cell))</td>"
            }
            body += "</tr>"
        }
        body += "</tbody></table></div>"
        return page.render(title: "Statistics", current: "/statistics", body: body)
    }

    private static func businessDay(_ text: String, field: String) throws -> BusinessDay {
        guard let day = BusinessDay(text) else {
            throw Refusal(status: 400, message: "\(field): \"\(text)\" is not a day; write it as YYYY-MM-DD, e.g. 2026-11-23.")
        }
        return day
    }

    /// 4 321 → "43.21": basis points as a percentage, hundredths of a star as stars.
    static func hundredths(_ value: Int) -> String {
        String(format: "%d.%02d", value / 100, abs(value % 100))
    }
}
