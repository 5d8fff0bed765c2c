import Foundation
import HTTPServer

/// A request as the console's pages see it: who sent it (when logged in), in which
/// language to answer, and its form fields (the query for GET, the body for POST).
struct ConsoleRequest: Sendable {
    static let sessionCookie = "console_session"

    let http: HTTPRequest
    let language: ConsoleLanguage
    let token: String?
    let session: ConsoleSession?
    let fields: FormFields

    var isPost: Bool { http.method == "POST" }

    /// The session cookie's value, when the browser sent one.
    static func token(in request: HTTPRequest) -> String? {
        guard let cookies = request.header("cookie") else { return nil }
        for pair in cookies.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == sessionCookie {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The form's CSRF token matches the session's (compared in constant time).
    var carriesValidCSRFToken: Bool {
        guard let session, let sent = fields["csrf"] else { return false }
        let expected = Array(session.csrfToken.utf8), actual = Array(sent.utf8)
        guard expected.count == actual.count else { return false }
        return zip(expected, actual).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
