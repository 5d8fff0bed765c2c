import Console
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// The console in a real browser (headless Debian chromium): log in by keyboard,
/// see the queues, filter jobs by an argument value, retry all matching discarded
/// jobs and watch a worker run them, preview a payout run, watch a payout run's
/// progress change live, run a periodic job now, visit the workflows and statistics
/// pages, read the pages on a phone-sized screen. Screenshots of each page go to `.build/console-screenshots/`
/// (or `CONSOLE_SCREENSHOTS_DIR`).
final class ConsoleBrowserTests: XCTestCase {
    /// The arguments of the jobs this test retries and runs.
    struct BrowserJob: JobArguments {
        static let kind = "console.browser"
        var n: Int
        var phone: String
    }

    static var screenshotFolder: String {
        if let folder = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS_DIR"], !folder.isEmpty { return folder }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/console-screenshots").path
    }

    func testAnOperatorWorksThroughTheConsoleInChromium() throws {
        let fixture = try ConsoleFixture(refreshInterval: .seconds(1))
        defer { fixture.server.stop() }
        try FileManager.default.createDirectory(atPath: Self.screenshotFolder, withIntermediateDirectories: true)
        let shot = { (page: ChromiumPage, name: String) in
            try page.screenshot(to: Self.screenshotFolder + "/\(name).png")
        }
        let queue = try fixture.insertJobs(6, state: "discarded", kind: BrowserJob.kind)
        var handlers = JobHandlerRegistry()
        handlers.register(BrowserJob.self) { _, _ in }
        let worker = try JobWorker(
            database: try TestDatabase.configuration, handlers: handlers,
            configuration: WorkerConfiguration(
                queues: [queue: 2], workerID: TestDatabase.uniqueName("browser-worker"), pollInterval: .milliseconds(200),
                runsLeaderServices: false),
            log: .silent)
        let workerRun = Task { try await worker.run() }
        defer {
            worker.shutdown()
            let stopped = DispatchSemaphore(value: 0)
            Task {
                _ = try? await workerRun.value
                stopped.signal()
            }
            stopped.wait()
        }
        let base = "http://127.0.0.1:\(fixture.server.port)"
        let page = try ChromiumPage()

        // Log in with the keyboard only: the name field has focus, Tab moves on, Enter submits.
        try page.navigate(base + "/")
        try page.waitUntil("location.pathname === '/login'")
        try shot(page, "login")
        XCTAssertEqual(try page.evaluate("document.activeElement.name") as? String, "name", "the name field has focus")
        try call(page, "document.activeElement.value = \(Self.quoted(fixture.financeName))")
        try page.press("Tab", code: "Tab", keyCode: 9)
        XCTAssertEqual(try page.evaluate("document.activeElement.name") as? String, "password")
        try call(page, "document.activeElement.value = \(Self.quoted(fixture.password))")
        try page.press("Enter", code: "Enter", keyCode: 13)
        try page.waitUntil("location.pathname === '/' && document.body.innerText.includes(\(Self.quoted(queue)))")
        try shot(page, "overview")

        // Filter the queue's jobs by an argument value.
        try page.navigate(base + "/jobs?queue=\(queue)")
        try call(page, "document.querySelector('input[name=args]').value = 'n=4'")
        try call(page, "document.querySelector('form.filters button').click()")
        try page.waitUntil("location.search.includes('args=n%3D4')")
        XCTAssertEqual(try page.evaluate("document.querySelectorAll('#jobs tbody a').length") as? Int, 1)
        try shot(page, "jobs-filtered")

        // Retry every matching discarded job: the count is confirmed first.
        try page.navigate(base + "/jobs?queue=\(queue)&state=discarded")
        try call(page, "document.querySelector('select[name=action]').value = 'retry'")
        try call(page, "document.querySelector('button[value=matching]').click()")
        try page.waitUntil("document.getElementById('match-count') !== null")
        XCTAssertEqual(try page.evaluate("document.getElementById('match-count').textContent") as? String, "6")
        try shot(page, "confirm-retry")
        try call(page, "document.querySelector('button.danger').click()")
        try page.waitUntil("location.pathname === '/audit'")
        // The worker runs them: the jobs page shows six completed jobs.
        let deadline = Date().addingTimeInterval(30)
        var completed = 0
        while completed < 6 && Date() < deadline {
            try page.navigate(base + "/jobs?queue=\(queue)&state=completed")
            completed = try page.evaluate("document.querySelectorAll('#jobs tbody a').length") as? Int ?? 0
            if completed < 6 { Thread.sleep(forTimeInterval: 0.3) }
        }
        XCTAssertEqual(completed, 6, "the retried jobs ran")
        try shot(page, "jobs-completed")
        try page.navigate(base + "/audit")
        XCTAssertTrue((try page.evaluate("document.getElementById('audit').innerText") as? String ?? "").contains(queue))
        try shot(page, "audit")

        // Finance previews a payout run: nothing is written.
        let runsBefore = try TestDatabase.connect().query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        try page.navigate(base + "/payouts")
        try call(page, "document.querySelector('input[name=period]').value = '2026-W47'")
        try call(page, "document.querySelector('button[formaction=\"/payouts/preview\"]').click()")
        try page.waitUntil("document.getElementById('dry-run') !== null")
        try shot(page, "payout-preview")
        let runsAfter = try TestDatabase.connect().query("SELECT count(*)::int8 FROM platform.payout_runs").scalar(Int64.self)
        XCTAssertEqual(runsAfter, runsBefore, "a dry run writes nothing")

        // A payout run's progress changes on the page without a reload.
        let connection = try TestDatabase.connect()
        let period = "\(Int.random(in: 2200...2299))-W\(Int.random(in: 10...52))"
        let run = try connection.query(
            """
            INSERT INTO platform.payout_runs (period, period_start, period_end)
            VALUES ($1, '2300-01-01', '2300-01-08') RETURNING id
            """, [period]
        ).scalar(Int64.self)
        defer { _ = try? connection.query("DELETE FROM platform.payout_runs WHERE id = $1", [run]) }
        try page.navigate(base + "/payouts")
        let status = "document.querySelector('[data-live=\"\(run)|status\"]').textContent"
        XCTAssertEqual(try page.evaluate(status) as? String, "running")
        try connection.query("UPDATE platform.payout_runs SET status = 'completed', completed_at = now() WHERE id = $1", [run])
        try page.waitUntil("\(status) === 'completed'")
        try shot(page, "payouts")

        // An operator runs a periodic job now from the cron page, by keyboard.
        let schedule = "browser-cron-\(UInt32.random(in: 0...UInt32.max))"
        try connection.query(
            """
            INSERT INTO queue.cron_schedules (name, expression, time_zone, kind, queue, next_fire_at)
            VALUES ($1, '0 3 * * *', 'Asia/Shanghai', 'console.cron', $1, now() + interval '1 hour')
            """, [schedule])
        try page.navigate(base + "/cron")
        try call(page, "document.querySelector('input[value=\"\(schedule)\"]').form.querySelector('button[value=run]').focus()")
        try page.press("Enter", code: "Enter", keyCode: 13)
        try page.waitUntil("document.body.innerText.includes('Run requested')")
        let requested = try connection.query(
            "SELECT run_requested_at IS NOT NULL FROM queue.cron_schedules WHERE name = $1", [schedule]).scalar(Bool.self)
        XCTAssertTrue(requested, "the run is requested for the leader")
        try shot(page, "cron")

        // Workflows and batches, and the statistics by business day.
        try page.navigate(base + "/workflows")
        XCTAssertNotNil(try page.evaluate("document.getElementById('batch-list') && true") as? Bool)
        try shot(page, "workflows")
        try page.navigate(base + "/statistics")
        XCTAssertTrue((try page.evaluate("document.getElementById('zone').innerText") as? String ?? "").contains("Asia/Shanghai"))
        try shot(page, "statistics")

        // A phone-sized screen: no sideways scrolling on the overview, nor on the new pages.
        try page.setViewport(width: 390, height: 844, mobile: true)
        for (path, name) in [("/", "overview-phone"), ("/statistics", "statistics-phone"), ("/cron", "cron-phone"), ("/workflows", "workflows-phone")] {
            try page.navigate(base + path)
            XCTAssertLessThanOrEqual(try page.evaluate("document.documentElement.scrollWidth") as? Int ?? .max, 390, path)
            try shot(page, name)
        }
    }

    private func call(_ page: ChromiumPage, _ expression: String) throws {
        _ = try page.evaluate("(function () { \(expression); return true; })()")
    }

    private static func quoted(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed]), as: UTF8.self)
    }
}
