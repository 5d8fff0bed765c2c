import Foundation
import HTTPServer
import PostgresClient

/// Who did what, to which jobs, how many, when: the newest 200 actions.
extension ConsoleApplication {
    func audit(page: ConsolePage) async throws -> HTTPResponse {
        let rows = try await database.pool(for: page.session!.role).query(
            "SELECT at, user_name, action, target::text, count FROM console.audit ORDER BY at DESC, id DESC LIMIT 200"
        ).rows
        var body = "<div class=\"scroll\"><table class=\"cards\" id=\"audit\"><thead><tr>"
        for heading in ["When", "Who", "Action", "Target", "Count"] { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for row in rows {
            let (at, user, action, target, count) = try row.decode((Date, String, String, String, Int64).self)
            body += "<tr><td data-label=\"\(page.t("When"))\">\(page.time(at))</td>"
            body += "<td data-label=\"\(page.t("Who"))\">\(HTMLText.escape(user))</td>"
            body += "<td data-label=\"\(page.t("Action"))\">\(HTMLText.escape(action))</td>"
            body += "<td data-label=\"\(page.t("Target"))\"><code>\(HTMLText.escape(target))</code></td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Count"))\">\(count)</td></tr>"
        }
        if rows.isEmpty { body += "<tr><td colspan=\"5\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div>"
        return page.render(title: "Audit", current: "/audit", body: body)
    }
}
