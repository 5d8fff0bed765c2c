import Foundation
import HTTPServer
import JobQueue

/// The jobs page (filters incl. job arguments, keyset pages), a job's detail, and
/// the actions on one, the selected, or all matching jobs.
extension ConsoleApplication {
    /// The filter fields as the page's form names them.
    static let filterFields = ["state", "queue", "kind", "tag", "from", "before", "args"]

    /// The filter a form describes; a refusal names the field that is wrong.
    func filter(from fields: FormFields) throws -> JobFilter {
        var filter = JobFilter(queue: fields["queue"], kind: fields["kind"], tag: fields["tag"])
        if let state = fields["state"] {
            guard let known = JobState(rawValue: state) else {
                throw Refusal(status: 400, message: "Unknown state \"\(state)\"; use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            filter.state = known
        }
        filter.createdFrom = try fields["from"].map { try localTime($0, field: "from") }
        filter.createdBefore = try fields["before"].map { try localTime($0, field: "before") }
        filter.argumentsContain = try fields["args"].map(Self.argumentsFilter)
        return filter
    }

    /// `{"order_id": 7}` as is, or `key=value` (the value as JSON when it parses,
    /// else as a string) as a one-key object.
    static func argumentsFilter(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{") {
            guard (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) is [String: Any] else {
                throw Refusal(status: 400, message: "Arguments filter is not a JSON object: write {\"key\": value} or key=value.")
            }
            return trimmed
        }
        let parts = trimmed.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw Refusal(status: 400, message: "Arguments filter: write key=value (e.g. order_id=7) or a JSON object.")
        }
        let raw = String(parts[1])
        let value = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
        let data = try JSONSerialization.data(withJSONObject: [String(parts[0]): value], options: [.fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    /// A `datetime-local` value, read in the business time zone.
    private func localTime(_ text: String, field: String) throws -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        throw Refusal(status: 400, message: "\(field): \"\(text)\" is not a time; write YYYY-MM-DDTHH:MM (\(timeZone.identifier)).")
    }

    private static func filterQuery(_ fields: FormFields) -> String {
        filterFields.compactMap { name in fields[name].map { "\(name)=\(FormFields.encode($0))" } }.joined(separator: "&")
    }

    private static func hiddenFilter(_ fields: FormFields) -> String {
        filterFields.compactMap { name in
            fields[name].map { "<input type=\"hidden\" name=\"\(name)\" value=\"\(HTMLText.escape($0))\">" }
        }.joined()
    }

    func jobs(_ request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        let fields = request.fields
        let filter = try self.filter(from: fields)
        let before = fields["after"].flatMap { Int64($0) }
        let pageSize = 50
        let administration = JobAdministration(database: database.pool(for: request.session!.role))
        let jobs = try await administration.list(matching: filter, before: before, limit: pageSize)
        let value = { (name: String) in HTMLText.escape(fields[name] ?? "") }
        var body = "<form class=\"filters\" method=\"get\" action=\"/jobs\" role=\"search\">"
        body += "<label>\(page.t("State"))<select name=\"state\"><option value=\"\"></option>"
        for state in JobState.allCases {
            body += "<option\(filter.state == state ? " selected" : "")>\(state.rawValue)</option>"
        }
        body += "</select></label>"
        for (name, label, type) in [
            ("queue", "Queue", "text"), ("kind", "Kind", "text"), ("tag", "Tag", "text"),
            ("from", "Created from", "datetime-local"), ("before", "Created before", "datetime-local"),
            ("args", "Arguments contain", "text"),
        ] {
            let hint = name == "args" ? " placeholder=\"order_id=7\"" : ""
            body += "<label>\(page.t(label))<input type=\"\(type)\" name=\"\(name)\" value=\"\(value(name))\"\(hint)></label>"
        }
        body += "<button>\(page.t("Filter"))</button></form>"
        let canAct = request.session!.role >= .operator
        if canAct {
            body += "<form method=\"post\" action=\"/jobs/action\">\(page.csrfField)\(Self.hiddenFilter(fields))"
            body += "<div class=\"actions\"><select name=\"action\" aria-label=\"\(page.t("Action"))\">"
            for action in JobBulkAction.allCases { body += "<option value=\"\(action.rawValue)\">\(page.t(Self.actionTitle(action)))</option>" }
            body += "</select><button name=\"scope\" value=\"selected\">\(page.t("Selected jobs"))</button>"
            body += "<button name=\"scope\" value=\"matching\" class=\"danger\">\(page.t("All matching jobs"))</button></div>"
        }
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"jobs\"><thead><tr>"
        if canAct { body += "<th><input type=\"checkbox\" data-select-all aria-label=\"all\"></th>" }
        for heading in ["Job", "Kind", "Queue", "State", "Attempt", "Run at", "Created"] { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for job in jobs {
            body += "<tr>"
            if canAct { body += "<td><input type=\"checkbox\" name=\"id\" value=\"\(job.id)\" aria-label=\"\(job.id)\"></td>" }
            body += "<td data-label=\"\(page.t("Job"))\"><a href=\"/jobs/\(job.id)\">\(job.id)</a></td>"
            body += "<td data-label=\"\(page.t("Kind"))\">\(HTMLText.escape(job.kind))</td>"
            body += "<td data-label=\"\(page.t("Queue"))\">\(HTMLText.escape(job.queue))</td>"
            body += "<td data-label=\"\(page.t("State"))\" class=\"state-\(job.state.rawValue)\">\(job.state.rawValue)</td>"
            body += "<td data-label=\"\(page.t("Attempt"))\">\(job.attempt)/\(job.maxAttempts)</td>"
            body += "<td data-label=\"\(page.t("Run at"))\">\(page.time(job.runAt))</td>"
            body += "<td data-label=\"\(page.t("Created"))\">\(page.time(job.createdAt))</td></tr>"
        }
        if jobs.isEmpty { body += "<tr><td colspan=\"8\">\(page.t("No jobs."))</td></tr>" }
        body += "</tbody></table></div>"
        if canAct { body += "</form>" }
        if jobs.count == pageSize, let last = jobs.last {
            let query = Self.filterQuery(fields)
            body += "<p><a rel=\"next\" href=\"/jobs?\(query)\(query.isEmpty ? "" : "&")after=\(last.id)\">\(page.t("Next page")) →</a></p>"
        }
        return page.render(title: "Jobs", current: "/jobs", body: body)
    }

    static func actionTitle(_ action: JobBulkAction) -> String {
        switch action {
        case .retry: "Retry"
        case .cancel: "Cancel"
        case .delete: "Delete"
        case .runNow: "Run now"
        }
    }

    /// Selected jobs: at once. All matching: first a confirmation showing the count,
    /// then, confirmed, in bounded batches in the background (the audit row is
    /// written when it finishes, with the count changed).
    func jobAction(_ request: ConsoleRequest, session: ConsoleSession, page: ConsolePage) async throws -> HTTPResponse {
        let fields = request.fields
        guard let action = fields["action"].flatMap(JobBulkAction.init(rawValue:)) else {
            throw Refusal(status: 400, message: "Choose an action: \(JobBulkAction.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let filter = try self.filter(from: fields)
        let administration = JobAdministration(database: database.pool(for: session.role))
        var target = Dictionary(uniqueKeysWithValues: Self.filterFields.compactMap { name in fields[name].map { (name, $0) } })
        switch fields["scope"] {
        case "selected":
            let ids = fields.all("id").compactMap { Int64($0) }
            guard !ids.isEmpty, ids.count <= 1_000 else {
                throw Refusal(status: 400, message: "Select between 1 and 1000 jobs, or act on all matching jobs.")
            }
            let changed = try await administration.apply(action, matching: JobFilter(), ids: ids)
            target = ["ids": ids.map(String.init).joined(separator: ",")]
            try await record(action.rawValue, target: target, count: changed, session: session)
            let back = fields["back"].flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") && !$0.contains("\\") ? $0 : nil }
            return Self.redirect(back ?? "/jobs?\(Self.filterQuery(fields))")
        case "matching":
            guard fields["confirmed"] == "yes" else {
                let count = try await administration.count(matching: filter)
                let body = """
                    <form method="post" action="/jobs/action">\(page.csrfField)\(Self.hiddenFilter(fields))
                    <input type="hidden" name="scope" value="matching"><input type="hidden" name="confirmed" value="yes">
                    <input type="hidden" name="action" value="\(action.rawValue)">
                    <p class="notice"><strong id="match-count">\(count)</strong> \(page.t("jobs match this filter")):
                    \(HTMLText.escape(target.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ", ")))</p>
                    <div class="actions"><button class="danger" autofocus>\(page.t("Confirm")): \(page.t(Self.actionTitle(action))) (\(count))</button>
                    <a href="/jobs?\(Self.filterQuery(fields))">\(page.t("Cancel"))</a></div></form>
                    """
                return page.render(title: Self.actionTitle(action), current: "/jobs", body: body)
            }
            let pool = database.pool(for: session.role)
            let application = self
            Task {
                let changed = (try? await JobAdministration(database: pool).apply(action, matching: filter)) ?? 0
                target["scope"] = "all matching"
                try? await application.record(action.rawValue, target: target, count: changed, session: session)
            }
            return Self.redirect("/audit")
        default:
            throw Refusal(status: 400, message: "Say which jobs: scope=selected (with id fields) or scope=matching.")
        }
    }

    func jobDetail(_ id: Int64, request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        let session = request.session!
        guard let detail = try await JobAdministration(database: database.pool(for: session.role)).show(id) else {
            throw Refusal(status: 404, message: "No job \(id) (it may have been pruned after its retention).")
        }
        let job = detail.job
        let reveal = session.role.seesSensitiveData
        let arguments = reveal ? detail.arguments : ArgumentMask.mask(json: detail.arguments)
        var body = "<table class=\"cards\"><tbody>"
        let rows: [(String, String)] = [
            ("Kind", HTMLText.escape(job.kind)), ("Queue", HTMLText.escape(job.queue)),
            ("State", "<span class=\"state-\(job.state.rawValue)\">\(job.state.rawValue)</span>"),
            ("Attempt", "\(job.attempt)/\(job.maxAttempts)"), ("Tag", HTMLText.escape(detail.tags.joined(separator: ", "))),
            ("Worker", HTMLText.escape(detail.leasedBy ?? "—")),
            ("Depends on", detail.dependsOn.map { "<a href=\"/jobs/\($0)\">\($0)</a>" }.joined(separator: ", ")),
            ("Batch", HTMLText.escape(detail.batchID ?? "—")),
        ]
        for (label, value) in rows { body += "<tr><th>\(page.t(label))</th><td>\(value.isEmpty ? "—" : value)</td></tr>" }
        body += "</tbody></table><h2>\(page.t("Arguments"))</h2><pre>\(HTMLText.escape(arguments))</pre>"
        body += "<h2>\(page.t("Timeline"))</h2><ol>"
        var events: [(Date, String)] = [(job.createdAt, "Created"), (job.runAt, "Run at")]
        if let attempted = detail.attemptedAt { events.append((attempted, "Attempted")) }
        if let finalized = job.finalizedAt { events.append((finalized, "Finalized")) }
        for (date, label) in events.sorted(by: { $0.0 < $1.0 }) { body += "<li>\(page.time(date)) — \(page.t(label))</li>" }
        body += "</ol><h2>\(page.t("Attempts and errors"))</h2><div class=\"scroll\"><table class=\"cards\"><thead><tr>"
        body += "<th>\(page.t("Attempt"))</th><th>\(page.t("When"))</th><th>\(page.t("Worker"))</th><th>\(page.t("Error"))</th></tr></thead><tbody>"
        for error in detail.errors {
            let text = reveal ? error.error : ArgumentMask.mask(text: error.error)
            body += "<tr><td data-label=\"\(page.t("Attempt"))\">\(error.attempt)</td><td data-label=\"\(page.t("When"))\">\(HTMLText.escape(error.at))</td>"
            body += "<td data-label=\"\(page.t("Worker"))\">\(HTMLText.escape(error.worker ?? "—"))</td>"
            body += "<td data-label=\"\(page.t("Error"))\">\(HTMLText.escape(text))</td></tr>"
        }
        if detail.errors.isEmpty { body += "<tr><td colspan=\"4\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div>"
        if session.role >= .operator {
            body += "<form method=\"post\" action=\"/jobs/action\" class=\"actions\">\(page.csrfField)"
            body += "<input type=\"hidden\" name=\"scope\" value=\"selected\"><input type=\"hidden\" name=\"id\" value=\"\(id)\">"
            body += "<input type=\"hidden\" name=\"back\" value=\"/jobs/\(id)\">"
            for action in JobBulkAction.allCases {
                body += "<button name=\"action\" value=\"\(action.rawValue)\"\(action == .delete ? " class=\"danger\"" : "")>\(page.t(Self.actionTitle(action)))</button>"
            }
            body += "</form>"
        }
        return page.render(title: "Job \(id)", current: "/jobs", body: body)
    }
}
