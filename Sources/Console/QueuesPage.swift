import HTTPServer
import JobQueue

/// Queues: pause and resume, the concurrency limit, priority aging.
extension ConsoleApplication {
    func queues(_ request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        let session = request.session!
        let queues = try await JobAdministration(database: database.pool(for: session.role)).queues()
        var body = "<div class=\"scroll\"><table class=\"cards\"><thead><tr><th>\(page.t("Queue"))</th>"
        body += "<th class=\"n\">\(page.t("Waiting"))</th><th class=\"n\">\(page.t("Running"))</th><th class=\"n\">\(page.t("Scheduled"))</th>"
        body += "<th>\(page.t("Concurrency limit"))</th><th>\(page.t("Aging seconds"))</th><th>\(page.t("Completed jobs"))</th><th>\(page.t("Action"))</th></tr></thead><tbody>"
        for queue in queues {
            let name = HTMLText.escape(queue.name)
            let completedJobsCell = "<td data-label=\"\(page.t("Completed jobs"))\">\(page.t(queue.keepCompleted ? "Kept" : "Deleted"))</td>"
            body += "<tr><td data-label=\"\(page.t("Queue"))\">\(name)\(queue.paused ? " <em>(\(page.t("Paused")))</em>" : "")</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Waiting"))\">\(queue.available)</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Running"))\">\(queue.running)</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Scheduled"))\">\(queue.scheduled)</td>"
            if session.role >= .operator {
                let form = "<form method=\"post\" action=\"/queues/action\">\(page.csrfField)<input type=\"hidden\" name=\"queue\" value=\"\(name)\">"
                body += "<td data-label=\"\(page.t("Concurrency limit"))\">\(form)<input type=\"hidden\" name=\"op\" value=\"limit\">"
                body += "<input name=\"value\" inputmode=\"numeric\" size=\"5\" value=\"\(queue.concurrencyLimit.map(String.init) ?? "")\" aria-label=\"\(page.t("Concurrency limit"))\"> <button>\(page.t("Save"))</button></form></td>"
                body += "<td data-label=\"\(page.t("Aging seconds"))\">\(form)<input type=\"hidden\" name=\"op\" value=\"aging\">"
                body += "<input name=\"value\" inputmode=\"numeric\" size=\"5\" value=\"\(queue.priorityAgingSeconds.map(String.init) ?? "")\" aria-label=\"\(page.t("Aging seconds"))\"> <button>\(page.t("Save"))</button></form></td>"
                body += completedJobsCell
                body += "<td>\(form)<button name=\"op\" value=\"\(queue.paused ? "resume" : "pause")\">\(page.t(queue.paused ? "Resume" : "Pause"))</button></form></td>"
            } else {
                body += "<td>\(queue.concurrencyLimit.map(String.init) ?? "—")</td><td>\(queue.priorityAgingSeconds.map(String.init) ?? "—")</td>\(completedJobsCell)<td></td>"
            }
            body += "</tr>"
        }
        body += "</tbody></table></div>"
        return page.render(title: "Queues", current: "/queues", body: body)
    }

    func queueAction(_ request: ConsoleRequest, session: ConsoleSession) async throws -> HTTPResponse {
        let fields = request.fields
        guard let queue = fields["queue"], queue.count <= 100 else { throw Refusal(status: 400, message: "Which queue? (queue field)") }
        let administration = JobAdministration(database: database.pool(for: session.role))
        let value = try fields["value"].map { text -> Int in
            guard let number = Int(text), (1...1_000_000).contains(number) else {
                throw Refusal(status: 400, message: "\"\(text)\" is not a whole number from 1 to 1000000 (leave it empty for none).")
            }
            return number
        }
        let operation = fields["op"] ?? ""
        switch operation {
        case "pause", "resume": try await administration.setPaused(queue, operation == "pause")
        case "limit": try await administration.setConcurrencyLimit(queue, value)
        case "aging": try await administration.setPriorityAging(queue, seconds: value)
        default: throw Refusal(status: 400, message: "Unknown queue operation \"\(operation)\": pause, resume, limit or aging.")
        }
        var target = ["queue": queue]
        if let value { target["value"] = String(value) }
        try await record("queue_\(operation)", target: target, count: 1, session: session)
        return Self.redirect("/queues")
    }
}
