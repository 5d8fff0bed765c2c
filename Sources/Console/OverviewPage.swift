import Foundation
import HTTPServer
import JobQueue

/// The front page: per queue its numbers and a throughput sparkline, the worker
/// processes alive (idle ones too) with their leases, the leaders. Numbers refresh live from `/api/overview`.
extension ConsoleApplication {
    func overview(page: ConsolePage) async throws -> HTTPResponse {
        let overview = try await overviewSnapshot.current().value
        var body = "<div hidden data-live-source=\"/api/overview\" data-live-rows=\"queues\" data-live-key=\"name\"></div>"
        body += "<div class=\"scroll\"><table class=\"cards\"><thead><tr><th>\(page.t("Queue"))</th>"
        for heading in ["Waiting", "Running", "Scheduled", "Failed/h", "Done/min"] {
            body += "<th class=\"n\">\(page.t(heading))</th>"
        }
        body += "<th class=\"n\">\(page.t("Oldest wait"))</th><th>\(page.t("Throughput (30 min)"))</th></tr></thead><tbody>"
        for queue in overview.queues {
            let name = HTMLText.escape(queue.name)
            body += "<tr><td data-label=\"\(page.t("Queue"))\"><a href=\"/jobs?queue=\(FormFields.encode(queue.name))\">\(name)</a>"
            if queue.paused { body += " <em>(\(page.t("Paused")))</em>" }
            body += "</td>"
            var live = [
                ("Waiting", "waiting", queue.waiting), ("Running", "running", queue.running),
                ("Scheduled", "scheduled", queue.scheduled), ("Failed/h", "failedLastHour", queue.failedLastHour),
            ]
            if queue.keepsCompleted { live.append(("Done/min", "completedLastMinute", queue.completedLastMinute)) }
            for (heading, field, value) in live {
                body += "<td class=\"n\" data-label=\"\(page.t(heading))\" data-live=\"\(name)|\(field)\">\(value)</td>"
            }
            // A queue that deletes its completed jobs leaves no rows to count them by.
            let notKept = "<span title=\"\(page.t("Completed jobs are deleted in this queue: no rows count them"))\">—</span>"
            if !queue.keepsCompleted { body += "<td class=\"n\" data-label=\"\(page.t("Done/min"))\">\(notKept)</td>" }
            let oldest = queue.oldestWaitSeconds.map { String(format: "%.0f s", $0) } ?? "—"
            body += "<td class=\"n\" data-label=\"\(page.t("Oldest wait"))\">\(oldest)</td>"
            let throughput = queue.keepsCompleted ? Self.sparkline(queue.completedPerMinute) : notKept
            body += "<td data-label=\"\(page.t("Throughput (30 min)"))\">\(throughput)</td></tr>"
        }
        body += "</tbody></table></div><h2>\(page.t("Workers"))</h2>"
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"workers\"><thead><tr>"
        for heading in ["Worker", "Host (pid)", "Queues", "Running", "Leases until", "Started", "Last seen"] {
            body += "<th\(heading == "Running" ? " class=\"n\"" : "")>\(page.t(heading))</th>"
        }
        body += "</tr></thead><tbody>"
        let leaders = Set(overview.leaders.map(\.holder))
        for worker in overview.workers {
            let leading = leaders.contains(worker.name) ? " <strong>(\(page.t("Leader")))</strong>" : ""
            body += "<tr><td data-label=\"\(page.t("Worker"))\">\(HTMLText.escape(worker.name))\(leading)</td>"
            let process = worker.host.map { "\(HTMLText.escape($0)) (\(worker.pid ?? 0))" } ?? "—"
            body += "<td data-label=\"\(page.t("Host (pid)"))\">\(process)</td>"
            body += "<td data-label=\"\(page.t("Queues"))\">\(HTMLText.escape(worker.queues.joined(separator: ", ")))</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Running"))\">\(worker.runningJobs)</td>"
            body += "<td data-label=\"\(page.t("Leases until"))\">\(page.time(worker.leaseExpiresAt))</td>"
            body += "<td data-label=\"\(page.t("Started"))\">\(page.time(worker.startedAt))</td>"
            body += "<td data-label=\"\(page.t("Last seen"))\">\(page.time(worker.seenAt))</td></tr>"
        }
        if overview.workers.isEmpty { body += "<tr><td colspan=\"7\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div><h2>\(page.t("Leader"))</h2><table class=\"cards\"><thead><tr>"
        body += "<th>\(page.t("Service"))</th><th>\(page.t("Holder"))</th><th>\(page.t("Leases until"))</th></tr></thead><tbody>"
        for leader in overview.leaders {
            body += "<tr><td data-label=\"\(page.t("Service"))\">\(HTMLText.escape(leader.service))</td>"
            body += "<td data-label=\"\(page.t("Holder"))\">\(HTMLText.escape(leader.holder))</td>"
            body += "<td data-label=\"\(page.t("Leases until"))\">\(page.time(leader.expiresAt))</td></tr>"
        }
        if overview.leaders.isEmpty { body += "<tr><td colspan=\"3\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table><p><small>\(page.t("Live")): \(page.time(overview.takenAt))</small></p>"
        return page.render(title: "Overview", current: "/", body: body)
    }

    /// The shared snapshot as JSON, answered 304 when the browser already has it.
    func overviewJSON(_ request: ConsoleRequest) async throws -> HTTPResponse {
        try await overviewSnapshot.response(ifNoneMatch: request.http.header("if-none-match"))
    }

    /// Completions per minute as a small inline SVG polyline.
    static func sparkline(_ values: [Int]) -> String {
        guard values.count > 1 else { return "" }
        let top = Double(max(values.max() ?? 1, 1))
        let step = 120.0 / Double(values.count - 1)
        let points = values.enumerated().map { index, value in
            String(format: "%.1f,%.1f", Double(index) * step, 22 - Double(value) / top * 20)
        }.joined(separator: " ")
        return "<svg class=\"spark\" viewBox=\"0 0 120 24\" role=\"img\" aria-label=\"\(values.last ?? 0)/min\">"
            + "<polyline fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"1.5\" points=\"\(points)\"/></svg>"
    }
}
