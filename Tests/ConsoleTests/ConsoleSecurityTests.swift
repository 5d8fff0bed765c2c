import Console
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Every refusal the console owes: no session, wrong role, missing or forged CSRF
/// token, oversized or malformed bodies, static paths outside the asset table — and
/// the database role under a viewer's requests, which cannot write at all.
final class ConsoleSecurityTests: XCTestCase {
    var fixture: ConsoleFixture!

    override func setUpWithError() throws {
        fixture = try ConsoleFixture()
    }

    override func tearDown() {
        fixture?.server.stop()
    }

    func testWithoutASessionPagesRedirectToLoginAndActionsAre401() throws {
        let anonymous = fixture.client
        for path in ["/", "/jobs", "/audit", "/payouts", "/api/overview"] {
            let response = try anonymous.get(path)
            XCTAssertEqual(response.status, 303, path)
            XCTAssertEqual(response.headers["location"], "/login", path)
        }
        let action = try anonymous.post("/jobs/action", form: [("action", "delete"), ("scope", "matching")])
        XCTAssertEqual(action.status, 401)
        var forged = anonymous
        forged.cookie = String(repeating: "ab", count: 32)
        XCTAssertEqual(try forged.get("/jobs").status, 303, "an unknown session token is no session")
    }

    func testLoginSetsAnHttpOnlyStrictCookieAndAWrongPasswordSetsNone() throws {
        let wrong = try fixture.client.post("/login", form: [("name", fixture.operatorName), ("password", "not-the-password")])
        XCTAssertEqual(wrong.status, 401)
        XCTAssertNil(wrong.headers["set-cookie"])
        XCTAssertTrue(wrong.body.contains("Wrong name or password."))
        let unknown = try fixture.client.post("/login", form: [("name", "nobody-\(UUID())".prefix(40).description), ("password", "x-password")])
        XCTAssertEqual(unknown.status, 401)
        let right = try fixture.client.post("/login", form: [("name", fixture.operatorName), ("password", fixture.password)])
        XCTAssertEqual(right.status, 303)
        let cookie = try XCTUnwrap(right.headers["set-cookie"])
        XCTAssertTrue(cookie.contains("HttpOnly"), cookie)
        XCTAssertTrue(cookie.contains("SameSite=Strict"), cookie)
        XCTAssertTrue(cookie.hasPrefix("console_session="), cookie)
        let crossSite = try fixture.client.post(
            "/login", form: [("name", fixture.operatorName), ("password", fixture.password)],
            headers: ["Origin": "http://evil.example"])
        XCTAssertEqual(crossSite.status, 403, "a login posted from another origin")
    }

    func testPasswordsAreStoredAsBcryptHashes() throws {
        let connection = try TestDatabase.connect()
        let hash = try connection.query("SELECT password_hash FROM console.users WHERE name = $1", [fixture.operatorName])
            .scalar(String.self)
        XCTAssertTrue(hash.hasPrefix("$2a$10$"), "bcrypt, cost 10")
        XCTAssertFalse(hash.contains(fixture.password))
    }

    func testActionsNeedACSRFTokenThatMatchesTheSession() throws {
        let queue = try fixture.insertJobs(3, state: "discarded")
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let form = [("action", "retry"), ("scope", "matching"), ("queue", queue), ("confirmed", "yes")]
        XCTAssertEqual(try operatorClient.post("/jobs/action", form: form).status, 403, "no token")
        XCTAssertEqual(
            try operatorClient.post("/jobs/action", form: form + [("csrf", String(repeating: "0", count: 64))]).status, 403,
            "a forged token")
        let viewerToken = try fixture.client.loggedIn(fixture.viewerName, fixture.password).csrfToken()
        XCTAssertEqual(try operatorClient.post("/jobs/action", form: form + [("csrf", viewerToken)]).status, 403,
            "another session's token")
        XCTAssertEqual(try fixture.states(queue), ["discarded": 3], "nothing was retried")
        XCTAssertEqual(try operatorClient.post("/logout", form: []).status, 403, "logging out needs the token too")
    }

    func testAViewerCannotActAndTheJobsStayAsTheyWere() throws {
        let queue = try fixture.insertJobs(2, state: "discarded")
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let token = try viewer.csrfToken()
        let response = try viewer.post(
            "/jobs/action", form: [("csrf", token), ("action", "delete"), ("scope", "matching"), ("queue", queue), ("confirmed", "yes")])
        XCTAssertEqual(response.status, 403)
        XCTAssertTrue(response.body.contains("needs the operator role"), response.body)
        XCTAssertEqual(try viewer.post("/queues/action", form: [("csrf", token), ("queue", queue), ("op", "pause")]).status, 403)
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        XCTAssertEqual(
            try operatorClient.post("/payouts/start", form: [("csrf", try operatorClient.csrfToken()), ("period", "2026-W01")]).status,
            403, "payout runs need the finance role")
        XCTAssertEqual(try fixture.states(queue), ["discarded": 2])
    }

    func testTheViewersDatabaseRoleCannotWriteEvenIfTheHTTPLayerLetItThrough() async throws {
        let queue = try fixture.insertJobs(1, state: "discarded")
        let viewerPool = fixture.database.pool(for: .viewer)
        for statement in [
            "UPDATE queue.jobs SET state = 'available' WHERE queue = $1", "DELETE FROM queue.jobs WHERE queue = $1",
            "INSERT INTO console.audit (user_name, action, count) VALUES ($1, 'x', 0)",
        ] {
            do {
                try await viewerPool.query(statement, [queue])
                XCTFail("the viewer role ran: \(statement)")
            } catch let error as PostgresError {
                XCTAssertEqual(error.sqlState, "42501", statement)
            }
        }
        do {
            try await viewerPool.query("SELECT password_hash FROM console.users")
            XCTFail("the viewer role read password hashes")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "42501")
        }
        let role = try await viewerPool.query("SELECT current_user").scalar(String.self)
        XCTAssertEqual(role, "cleaning_console_viewer")
        XCTAssertEqual(try fixture.states(queue), ["discarded": 1])
    }

    func testOversizedMalformedAndUnencodedRequestsAreRefused() throws {
        let operatorClient = try fixture.client.loggedIn(fixture.operatorName, fixture.password)
        let token = try operatorClient.csrfToken()
        let huge = try operatorClient.post("/jobs/action", form: [("csrf", token), ("args", String(repeating: "x", count: 20_000))])
        XCTAssertEqual(huge.status, 413)
        let badEscape = try operatorClient.send(
            raw: operatorClient.request(
                "POST", "/jobs/action", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Array("csrf=\(token)&action=%zz".utf8)))
        XCTAssertEqual(badEscape.status, 400)
        let notUTF8 = try operatorClient.send(
            raw: operatorClient.request(
                "POST", "/jobs/action", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: Array("csrf=\(token)&action=%FF%FE".utf8)))
        XCTAssertEqual(notUTF8.status, 400)
        let json = try operatorClient.send(
            raw: operatorClient.request("POST", "/jobs/action", headers: ["Content-Type": "application/json"], body: Array("{}".utf8)))
        XCTAssertEqual(json.status, 415)
        let chunked = try operatorClient.send(
            raw: Array("POST /jobs/action HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8))
        XCTAssertEqual(chunked.status, 501)
        let badLength = try operatorClient.send(raw: Array("POST /login HTTP/1.1\r\nContent-Length: -4\r\n\r\n".utf8))
        XCTAssertEqual(badLength.status, 400)
        let badFilter = try operatorClient.get("/jobs?args=%7Bnot%20json")
        XCTAssertEqual(badFilter.status, 400)
        XCTAssertTrue(badFilter.body.contains("not a JSON object"), badFilter.body)
        XCTAssertEqual(try operatorClient.get("/jobs?state=exploded").status, 400)
    }

    func testStaticFilesComeOnlyFromTheAssetTable() throws {
        let client = fixture.client
        XCTAssertEqual(try client.get("/static/console.css").status, 200)
        for path in [
            "/static/../Package.swift", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2fPackage.swift",
            "/static/console.css/../../sql/0016_console.sql", "/static//etc/passwd",
        ] {
            let response = try client.get(path)
            XCTAssertEqual(response.status, 404, path)
            XCTAssertFalse(response.body.contains("root:"), path)
        }
    }

    func testPagesForbidFramingAndInlineScripts() throws {
        let viewer = try fixture.client.loggedIn(fixture.viewerName, fixture.password)
        let page = try viewer.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["x-frame-options"], "DENY")
        XCTAssertTrue(page.headers["content-security-policy"]?.contains("default-src 'self'") == true)
    }
}
