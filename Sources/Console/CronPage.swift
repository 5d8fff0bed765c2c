import HTTPServer
import JobQueue

/// Periodic schedules with their last and next fire times (in the business zone).
extension ConsoleApplication {
    func cron(page: ConsolePage) async throws -> HTTPResponse {
        let schedules = try await JobAdministration(database: database.pool(for: page.session!.role)).schedules()
        var body = "<div class=\"scroll\"><table class=\"cards\"><thead><tr>"
        for heading in ["Name", "Expression", "Time zone", "Kind", "Queue", "Last fire", "Next fire"] {
            body += "<th>\(page.t(heading))</th>"
        }
        body += "</tr></thead><tbody>"
        for schedule in schedules {
            body += "<tr><td data-label=\"\(page.t("Name"))\">\(HTMLText.escape(schedule.name))</td>"
            body += "<td data-label=\"\(page.t("Expression"))\"><code>\(HTMLText.escape(schedule.expression))</code></td>"
            body += "<td data-label=\"\(page.t("Time zone"))\">\(HTMLText.escape(schedule.timeZone))</td>"
            body += "<td data-label=\"\(page.t("Kind"))\"><a href=\"/jobs?kind=\(FormFields.encode(schedule.kind))\">\(HTMLText.escape(schedule.kind))</a></td>"
            body += "<td data-label=\"\(page.t("Queue"))\">\(HTMLText.escape(schedule.queue))</td>"
            body += "<td data-label=\"\(page.t("Last fire"))\">\(page.time(schedule.lastFireAt))</td>"
            body += "<td data-label=\"\(page.t("Next fire"))\">\(page.time(schedule.nextFireAt))</td></tr>"
        }
        if schedules.isEmpty { body += "<tr><td colspan=\"7\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div>"
        return page.render(title: "Cron", current: "/cron", body: body)
    }
}
