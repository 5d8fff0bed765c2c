import HTTPServer

/// `GET /login` shows the form; `POST /login` checks the password in PostgreSQL and
/// sets the session cookie (`HttpOnly`, `SameSite=Strict`). A login posted from
/// another origin is refused (login CSRF), and nothing about the password is logged.
extension ConsoleApplication {
    func login(_ request: ConsoleRequest, page: ConsolePage) async -> HTTPResponse {
        guard request.isPost else { return loginForm(page: page, failed: false) }
        if let origin = request.http.header("origin"), let host = request.http.header("host"),
            origin != "http://\(host)" && origin != "https://\(host)"
        {
            return .text(403, "Forbidden")
        }
        guard let name = request.fields["name"], let password = request.fields.pairs.first(where: { $0.name == "password" })?.value,
            !password.isEmpty, name.count <= 64, password.utf8.count <= 72
        else { return loginForm(page: page, failed: true) }
        do {
            guard let (_, token) = try await ConsoleSession.logIn(name: name, password: password, on: database.sessions) else {
                return loginForm(page: page, failed: true)
            }
            return HTTPResponse(
                status: 303, reason: "See Other",
                headers: [("Location", "/"), ("Set-Cookie", Self.cookie(value: token, maxAge: ConsoleSession.lifetimeSeconds))],
                body: [])
        } catch {
            return .text(503, "Service Unavailable")
        }
    }

    private func loginForm(page: ConsolePage, failed: Bool) -> HTTPResponse {
        let message = failed ? "<p class=\"error\" role=\"alert\">\(page.t("Wrong name or password."))</p>" : ""
        return page.render(
            title: "Log in", current: "/login", status: failed ? 401 : 200,
            body: """
                <form class="login" method="post" action="/login">\(message)
                <label>\(page.t("Name"))<input name="name" autocomplete="username" required autofocus></label>
                <label>\(page.t("Password"))<input name="password" type="password" autocomplete="current-password" required></label>
                <button>\(page.t("Log in"))</button></form>
                """)
    }
}
