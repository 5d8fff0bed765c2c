import HTTPServer
import JobQueue

/// Periodic schedules with their last and next fire times (in the business zone);
/// operators run one now or switch it off and on (the leader honours both at its
/// next tick).
extension ConsoleApplication {
    func cron(page: ConsolePage) async throws -> HTTPResponse {
        let session = page.session!
        let schedules = try await JobAdministration(database: database.pool(for: session.role)).schedules()
        let canAct = session.role >= .operator
        var body = "<div class=\"scroll\"><table class=\"cards\" id=\"schedules\"><thead><tr>"
        var headings = ["Name", "Expression", "Time zone", "Kind", "Queue", "Last fire", "Next fire", "Enabled"]
        if canAct { headings.append("Action") }
        for heading in headings { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for schedule in schedules {
            let name = HTMLText.escape(schedule.name)
            body += "<tr><td data-label=\"\(page.t("Name"))\">\(name)</td>"
            body += "<td data-label=\"\(page.t("Expression"))\"><code>\(HTMLText.escape(schedule.expression))</code></td>"
            body += "<td data-label=\"\(page.t("Time zone"))\">\(HTMLText.escape(schedule.timeZone))</td>"
            body += "<td data-label=\"\(page.t("Kind"))\"><a href=\"/jobs?kind=\(FormFields.encode(schedule.kind))\">\(HTMLText.escape(schedule.kind))</a></td>"
            body += "<td data-label=\"\(page.t("Queue"))\">\(HTMLText.escape(schedule.queue))</td>"
            body += "<td data-label=\"\(page.t("Last fire"))\">\(page.time(schedule.lastFireAt))</td>"
            body += "<td data-label=\"\(page.t("Next fire"))\">\(schedule.enabled ? page.time(schedule.nextFireAt) : "—")</td>"
            body += "<td data-label=\"\(page.t("Enabled"))\">\(page.t(schedule.enabled ? "yes" : "no (disabled)"))"
            if let requested = schedule.runRequestedAt { body += "<br><small>\(page.t("Run requested")): \(page.time(requested))</small>" }
            body += "</td>"
            if canAct {
                body += "<td data-label=\"\(page.t("Action"))\"><form method=\"post\" action=\"/cron/action\" class=\"actions\">"
                body += "\(page.csrfField)<input type=\"hidden\" name=\"name\" value=\"\(name)\">"
                body += "<button name=\"op\" value=\"run\">\(page.t("Run now"))</button>"
                body += schedule.enabled
                    ? "<button name=\"op\" value=\"disable\" class=\"danger\">\(page.t("Disable"))</button>"
                    : "<button name=\"op\" value=\"enable\">\(page.t("Enable"))</button>"
                body += "</form></td>"
            }
            body += "</tr>"
        }
        if schedules.isEmpty { body += "<tr><td colspan=\"\(headings.count)\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div>"
        return page.render(title: "Cron", current: "/cron", body: body)
    }

    /// Run now, enable or disable one schedule; audited.
    func cronAction(_ request: ConsoleRequest, session: ConsoleSession) async throws -> HTTPResponse {
        guard let name = request.fields["name"], name.count <= 200 else {
            throw Refusal(status: 400, message: "Which periodic job? (name field)")
        }
        let administration = JobAdministration(database: database.pool(for: session.role))
        let operation = request.fields["op"] ?? ""
        let found: Bool
        switch operation {
        case "run": found = try await administration.requestScheduleRun(name)
        case "enable", "disable": found = try await administration.setScheduleEnabled(name, operation == "enable")
        default: throw Refusal(status: 400, message: "Unknown cron operation \"\(operation)\": run, enable or disable.")
        }
        guard found else { throw Refusal(status: 404, message: "No periodic job named \"\(name)\"; see the cron page.") }
        try await record("cron_\(operation)", target: ["schedule": name], count: 1, session: session)
        return Self.redirect("/cron")
    }
}
