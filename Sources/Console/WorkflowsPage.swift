import Foundation
import HTTPServer
import JobQueue

/// Workflows (jobs that wait on others, named by their first job) and batches,
/// each with its progress — jobs counted by state — and a detail page listing its
/// jobs with their dependencies.
extension ConsoleApplication {
    func workflows(page: ConsolePage) async throws -> HTTPResponse {
        let administration = JobAdministration(database: database.pool(for: page.session!.role))
        let workflows = try await administration.workflows()
        let batches = try await administration.batches()
        var body = "<h2>\(page.t("Workflows"))</h2>"
        body += groupTable(workflows, id: "workflow-list", page: page) { "/workflows/\(FormFields.encode($0.name))" }
        body += "<h2>\(page.t("Batches"))</h2>"
        body += groupTable(batches, id: "batch-list", page: page) { "/batches?id=\(FormFields.encode($0.name))" }
        return page.render(title: "Workflows", current: "/workflows", body: body)
    }

    private func groupTable(
        _ groups: [JobGroupProgress], id: String, page: ConsolePage, link: (JobGroupProgress) -> String
    ) -> String {
        var body = "<div class=\"scroll\"><table class=\"cards\" id=\"\(id)\"><thead><tr>"
        for heading in ["Name", "Kind", "Progress", "Jobs by state", "Created", "Last finished"] {
            body += "<th>\(page.t(heading))</th>"
        }
        body += "</tr></thead><tbody>"
        for group in groups {
            body += "<tr><td data-label=\"\(page.t("Name"))\"><a href=\"\(link(group))\">\(HTMLText.escape(group.name))</a></td>"
            body += "<td data-label=\"\(page.t("Kind"))\">\(HTMLText.escape(group.kind ?? "—"))</td>"
            body += "<td data-label=\"\(page.t("Progress"))\">\(Self.progress(group.counts, total: group.total))</td>"
            body += "<td data-label=\"\(page.t("Jobs by state"))\">\(Self.stateCounts(group.counts))</td>"
            body += "<td data-label=\"\(page.t("Created"))\">\(page.time(group.createdAt))</td>"
            body += "<td data-label=\"\(page.t("Last finished"))\">\(page.time(group.lastFinishedAt))</td></tr>"
        }
        if groups.isEmpty { body += "<tr><td colspan=\"6\">\(page.t("none"))</td></tr>" }
        return body + "</tbody></table></div>"
    }

    /// Finished of total, as a bar and as numbers (counts by state name).
    static func progress(_ counts: [String: Int], total: Int) -> String {
        let finished = JobState.final.reduce(0) { $0 + (counts[$1.rawValue] ?? 0) }
        return "<progress max=\"\(max(total, 1))\" value=\"\(finished)\"></progress> \(finished)/\(total)"
    }

    static func stateCounts(_ counts: [String: Int]) -> String {
        JobState.allCases.compactMap { state in
            counts[state.rawValue].map { "<span class=\"state-\(state.rawValue)\">\(state.rawValue) \($0)</span>" }
        }.joined(separator: " · ")
    }

    func workflowDetail(_ firstJob: Int64, page: ConsolePage) async throws -> HTTPResponse {
        let members = try await JobAdministration(database: database.pool(for: page.session!.role)).workflowMembers(firstJob)
        guard !members.isEmpty else {
            throw Refusal(status: 404, message: "No job \(firstJob) (it may have been pruned after its retention).")
        }
        return page.render(title: "Workflow \(firstJob)", current: "/workflows", body: memberTable(members, page: page))
    }

    func batchDetail(_ request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        guard let batch = request.fields["id"], batch.count <= 200 else {
            throw Refusal(status: 400, message: "Which batch? (id field)")
        }
        let members = try await JobAdministration(database: database.pool(for: page.session!.role)).batchMembers(batch)
        guard !members.isEmpty else { throw Refusal(status: 404, message: "No jobs in batch \"\(batch)\".") }
        return page.render(title: "Batch \(batch)", current: "/workflows", body: memberTable(members, page: page))
    }

    private func memberTable(_ members: [JobGroupProgress.Member], page: ConsolePage) -> String {
        var counts: [String: Int] = [:]
        for member in members { counts[member.job.state.rawValue, default: 0] += 1 }
        var body = "<p id=\"group-progress\">\(page.t("Progress")): \(Self.progress(counts, total: members.count)) — "
        body += "\(Self.stateCounts(counts))</p>"
        if members.count == JobGroupProgress.memberLimit {
            body += "<p class=\"notice\">\(page.t("Showing the first")) \(members.count)</p>"
        }
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"members\"><thead><tr>"
        for heading in ["Job", "Kind", "State", "Depends on", "Batch", "Run at", "Finalized"] { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for member in members {
            let job = member.job
            let batch = member.callbackForBatch.map { "\(page.t("Callback")): \(HTMLText.escape($0))" }
                ?? member.batchID.map { HTMLText.escape($0) } ?? "—"
            let dependencies = member.dependsOn.map { "<a href=\"/jobs/\($0)\">\($0)</a>" }.joined(separator: ", ")
            body += "<tr><td data-label=\"\(page.t("Job"))\"><a href=\"/jobs/\(job.id)\">\(job.id)</a></td>"
            body += "<td data-label=\"\(page.t("Kind"))\">\(HTMLText.escape(job.kind))</td>"
            body += "<td data-label=\"\(page.t("State"))\" class=\"state-\(job.state.rawValue)\">\(job.state.rawValue)</td>"
            body += "<td data-label=\"\(page.t("Depends on"))\">\(dependencies.isEmpty ? "—" : dependencies)</td>"
            body += "<td data-label=\"\(page.t("Batch"))\">\(batch)</td>"
            body += "<td data-label=\"\(page.t("Run at"))\">\(page.time(job.runAt))</td>"
            body += "<td data-label=\"\(page.t("Finalized"))\">\(page.time(job.finalizedAt))</td></tr>"
        }
        body += "</tbody></table></div><p><a href=\"/workflows\">← \(page.t("Workflows"))</a></p>"
        return body
    }
}
