import CleaningPlatform
import Foundation
import HTTPServer
import JobQueue
import PostgresClient

/// Routing and the checks every request passes: a session for everything but the
/// login page and the static files, a role for each action, a matching CSRF token
/// on every state-changing request.
struct ConsoleApplication: Sendable {
    let database: ConsoleDatabase
    let timeZone: TimeZone
    let overviewSnapshot: SharedSnapshot<JobOverview>
    let payoutSnapshot: SharedSnapshot<PayoutProgressSnapshot>

    init(database: ConsoleDatabase, timeZone: TimeZone, refreshInterval: Duration) {
        self.database = database
        self.timeZone = timeZone
        overviewSnapshot = SharedSnapshot(pool: database.pool(for: .viewer), interval: refreshInterval) {
            try JobOverview.read(on: $0)
        }
        payoutSnapshot = SharedSnapshot(pool: database.pool(for: .viewer), interval: refreshInterval) {
            try PayoutProgressSnapshot.read(on: $0)
        }
    }

    /// A refusal with the reason in the status line and the body.
    struct Refusal: Error {
        var status: Int
        var message: String
    }

    func handle(_ http: HTTPRequest) async -> HTTPResponse {
        if http.path.hasPrefix("/static/") {
            return ConsoleAssets.response(for: http.path) ?? .text(404, "Not Found")
        }
        guard http.method == "GET" || http.method == "POST" else {
            return .text(405, "Method Not Allowed", headers: [("Allow", "GET, POST")])
        }
        let language = ConsoleLanguage(acceptLanguage: http.header("accept-language"))
        let fieldText = http.method == "POST" ? nil : http.query
        let parsedFields = fieldText.map { FormFields($0) } ?? FormFields(body: http.body)
        guard let fields = parsedFields else { return .text(400, "Bad Request") }
        if http.method == "POST", !http.body.isEmpty,
            http.header("content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") != true
        {
            return .text(415, "Unsupported Media Type")
        }
        let token = ConsoleRequest.token(in: http)
        let session: ConsoleSession?
        do {
            session = try await token.asyncMap { try await ConsoleSession.find(token: $0, on: database.sessions) } ?? nil
        } catch {
            return .text(503, "Service Unavailable")
        }
        let request = ConsoleRequest(http: http, language: language, token: token, session: session, fields: fields)
        let page = ConsolePage(language: language, session: session, timeZone: timeZone)
        if http.path == "/login" {
            return await login(request, page: page)
        }
        guard let session else {
            if request.isPost { return .text(401, "Unauthorized") }
            return HTTPResponse(status: 303, reason: "See Other", headers: [("Location", "/login")], body: [])
        }
        if request.isPost && !request.carriesValidCSRFToken {
            return page.render(title: "Error", current: "", status: 403, body: "<p class=\"error\">CSRF token missing or wrong: reload the page and try again.</p>")
        }
        do {
            return try await route(request, session: session, page: page)
        } catch let refusal as Refusal {
            return page.render(
                title: "Error", current: "", status: refusal.status,
                body: "<p class=\"error\">\(HTMLText.escape(refusal.message))</p>")
        } catch let error as PostgresError where error.sqlState == "42501" {
            return page.render(
                title: "Error", current: "", status: 403, body: "<p class=\"error\">\(page.t("Your role does not allow this."))</p>")
        } catch {
            return page.render(
                title: "Error", current: "", status: 500,
                body: "<p class=\"error\">\(HTMLText.escape(ArgumentMask.mask(text: String(describing: error))))</p>")
        }
    }

    private func route(_ request: ConsoleRequest, session: ConsoleSession, page: ConsolePage) async throws -> HTTPResponse {
        let path = request.http.path
        switch (request.http.method, path) {
        case ("POST", "/logout"):
            if let token = request.token { try await ConsoleSession.logOut(token: token, on: database.sessions) }
            return HTTPResponse(
                status: 303, reason: "See Other",
                headers: [("Location", "/login"), ("Set-Cookie", Self.cookie(value: "", maxAge: 0))], body: [])
        case ("GET", "/"): return try await overview(page: page)
        case ("GET", "/api/overview"): return try await overviewJSON(request)
        case ("GET", "/api/payouts"):
            return try await payoutSnapshot.response(ifNoneMatch: request.http.header("if-none-match"))
        case ("GET", "/jobs"): return try await jobs(request, page: page)
        case ("POST", "/jobs/action"):
            try Self.require(.operator, session)
            return try await jobAction(request, session: session, page: page)
        case ("GET", "/queues"): return try await queues(request, page: page)
        case ("POST", "/queues/action"):
            try Self.require(.operator, session)
            return try await queueAction(request, session: session)
        case ("GET", "/cron"): return try await cron(page: page)
        case ("POST", "/cron/action"):
            try Self.require(.operator, session)
            return try await cronAction(request, session: session)
        case ("GET", "/payouts"): return try await payouts(request, session: session, page: page)
        case ("POST", "/payouts/preview"):
            try Self.require(.finance, session)
            return try await payoutPreview(request, page: page)
        case ("POST", "/payouts/start"):
            try Self.require(.finance, session)
            return try await payoutStart(request, session: session)
        case ("POST", "/payouts/retry"):
            try Self.require(.finance, session)
            return try await payoutRetry(request, session: session)
        case ("GET", "/workflows"): return try await workflows(page: page)
        case ("GET", "/batches"): return try await batchDetail(request, page: page)
        case ("GET", "/statistics"): return try await statistics(request, page: page)
        case ("GET", "/audit"): return try await audit(page: page)
        default:
            if request.http.method == "GET", path.hasPrefix("/jobs/"), let id = Int64(path.dropFirst("/jobs/".count)) {
                return try await jobDetail(id, request: request, page: page)
            }
            if request.http.method == "GET", path.hasPrefix("/workflows/"), let id = Int64(path.dropFirst("/workflows/".count)) {
                return try await workflowDetail(id, page: page)
            }
            if request.http.method == "GET", path.hasPrefix("/payouts/"), path.hasSuffix(".csv"),
                let id = Int64(path.dropFirst("/payouts/".count).dropLast(4))
            {
                return try await payoutCSV(id, session: session)
            }
            return .text(404, "Not Found")
        }
    }

    static func require(_ role: ConsoleRole, _ session: ConsoleSession) throws {
        guard session.role >= role else {
            throw Refusal(status: 403, message: "This needs the \(role.rawValue) role; you are \(session.role.rawValue).")
        }
    }

    static func cookie(value: String, maxAge: Int) -> String {
        "\(ConsoleRequest.sessionCookie)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
    }

    static func redirect(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 303, reason: "See Other", headers: [("Location", location)], body: [])
    }

    /// Records an action in `console.audit`, on the acting role's connection.
    func record(
        _ action: String, target: [String: String], count: Int, session: ConsoleSession
    ) async throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: target, options: [.sortedKeys]), as: UTF8.self)
        try await database.pool(for: session.role).query(
            "INSERT INTO console.audit (user_name, action, target, count) VALUES ($1, $2, $3::jsonb, $4)",
            [session.userName, action, json, Int64(count)])
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
