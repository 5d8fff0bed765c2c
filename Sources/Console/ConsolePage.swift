import CleaningPlatform
import Foundation
import HTTPServer

/// One HTML page of the console: the shared frame (navigation, language, the
/// logged-in user, the CSRF token every form carries) around a page's content.
struct ConsolePage {
    let language: ConsoleLanguage
    let session: ConsoleSession?
    let timeZone: TimeZone

    func t(_ key: String) -> String { HTMLText.escape(language.text(key)) }

    func time(_ date: Date?) -> String {
        date.map { HTMLText.escape(ZonedTimeText.format($0, in: timeZone)) } ?? "—"
    }

    /// The hidden field every state-changing form carries.
    var csrfField: String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(HTMLText.escape(session?.csrfToken ?? ""))\">"
    }

    static let sections: [(path: String, title: String)] = [
        ("/", "Overview"), ("/jobs", "Jobs"), ("/queues", "Queues"), ("/cron", "Cron"), ("/workflows", "Workflows"),
        ("/payouts", "Payouts"), ("/statistics", "Statistics"), ("/audit", "Audit"),
    ]

    func render(title: String, current: String, status: Int = 200, body: String) -> HTTPResponse {
        var navigation = ""
        if let session {
            navigation = "<nav aria-label=\"main\"><ul>"
            for section in Self.sections {
                let marker = section.path == current ? " aria-current=\"page\"" : ""
                navigation += "<li><a href=\"\(section.path)\"\(marker)>\(t(section.title))</a></li>"
            }
            navigation += "</ul><form method=\"post\" action=\"/logout\" class=\"logout\">\(csrfField)"
            navigation += "<span class=\"who\">\(HTMLText.escape(session.userName)) · \(t("Role")): "
            navigation += "\(HTMLText.escape(session.role.rawValue))</span> <button>\(t("Log out"))</button></form></nav>"
        }
        let html = """
            <!doctype html>
            <html lang="\(language == .chinese ? "zh-CN" : "en")">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(t(title)) · jobs console</title><link rel="stylesheet" href="/static/console.css"></head>
            <body><header><a class="brand" href="/">jobs console</a>\(navigation)</header>
            <main id="main"><h1>\(t(title))</h1>
            \(body)
            </main><script src="/static/console.js"></script></body></html>
            """
        return HTTPResponse(
            status: status, reason: status == 200 ? "OK" : Self.reason(status), contentType: "text/html; charset=utf-8",
            headers: Self.securityHeaders, body: Array(html.utf8))
    }

    /// No framing (clickjacking), no inline script or foreign origins, no caching of
    /// pages that show data.
    static let securityHeaders: [(name: String, value: String)] = [
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"),
        ("Referrer-Policy", "same-origin"),
    ]

    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        default: "Error"
        }
    }
}
