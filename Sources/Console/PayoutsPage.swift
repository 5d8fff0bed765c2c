import CleaningPlatform
import Foundation
import HTTPServer
import PostgresClient

/// Payout runs for finance: the runs with their status, live progress (lines paid,
/// amounts paid and owed, refreshed from the shared `/api/payouts` snapshot) and
/// failed transfers with a retry button, the ledger balance check, a preview (dry
/// run, nothing written), starting a run and each run's CSV report.
extension ConsoleApplication {
    /// Every ledger transaction balances, so all entries together sum to zero.
    static let ledgerBalanceStatement = "SELECT COALESCE(sum(amount_fen), 0)::int8 FROM platform.ledger_entries"

    static let payoutRunsStatement = """
        SELECT id, period, status, created_at, completed_at FROM platform.payout_runs ORDER BY period_start DESC LIMIT 52
        """

    func payouts(_ request: ConsoleRequest, session: ConsoleSession, page: ConsolePage) async throws -> HTTPResponse {
        let pool = database.pool(for: session.role)
        let progress = Dictionary(
            uniqueKeysWithValues: try await payoutSnapshot.current().value.runs.map { ($0.runID, $0) })
        let (runs, balance) = try await pool.withConnection { connection in
            let runs = try connection.query(Self.payoutRunsStatement).rows.map { row in
                let (id, period, status, created, completed) = try row.decode((Int64, String, String, Date, Date?).self)
                return (id, period, status, created, completed, try PayoutRun.failures(id, on: connection))
            }
            return (runs, try connection.query(Self.ledgerBalanceStatement).scalar(Int64.self))
        }
        var body = balance == 0
            ? "<p class=\"notice\" id=\"ledger\">\(page.t("Ledger balanced")) (Σ = 0)</p>"
            : "<p class=\"error\" id=\"ledger\">\(page.t("Ledger NOT balanced")) (Σ = \(balance) fen)</p>"
        if session.role >= .finance {
            let period = HTMLText.escape(request.fields["period"] ?? PayoutPeriod.previous(to: Date(), timeZone: timeZone).name)
            body += "<form method=\"post\" class=\"actions\">\(page.csrfField)<label>\(page.t("Period"))"
            body += "<input name=\"period\" value=\"\(period)\" pattern=\"[0-9]{4}-W[0-9]{2}\" required></label>"
            body += "<button formaction=\"/payouts/preview\">\(page.t("Preview (dry run)"))</button>"
            body += "<button formaction=\"/payouts/start\" class=\"danger\">\(page.t("Start run"))</button></form>"
        }
        body += "<h2>\(page.t("Runs"))</h2>"
        body += "<div hidden data-live-source=\"/api/payouts\" data-live-rows=\"runs\" data-live-key=\"runID\"></div>"
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"payout-runs\"><thead><tr>"
        let headings = ["Period", "Status", "Lines paid", "Paid", "Owed", "Created", "Finalized", "Error", "CSV"]
        for heading in headings { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for (id, period, status, created, completed, failures) in runs {
            let live = progress[id]
            body += "<tr><td data-label=\"\(page.t("Period"))\">\(HTMLText.escape(period))</td>"
            body += "<td data-label=\"\(page.t("Status"))\" data-live=\"\(id)|status\">\(HTMLText.escape(live?.status ?? status))</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Lines paid"))\"><span data-live=\"\(id)|paidLines\">\(live?.paidLines ?? 0)</span>"
            body += " / <span data-live=\"\(id)|lines\">\(live?.lines ?? 0)</span></td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Paid"))\" data-live=\"\(id)|paidFen\">\(PayoutReport.yuan(live?.paidFen ?? 0))</td>"
            body += "<td class=\"n\" data-label=\"\(page.t("Owed"))\" data-live=\"\(id)|owedFen\">\(PayoutReport.yuan(live?.owedFen ?? 0))</td>"
            body += "<td data-label=\"\(page.t("Created"))\">\(page.time(created))</td>"
            body += "<td data-label=\"\(page.t("Finalized"))\">\(page.time(completed))</td><td data-label=\"\(page.t("Error"))\">"
            for failure in failures {
                let reason = session.role.seesSensitiveData ? failure.reason : ArgumentMask.mask(text: failure.reason)
                body += "<div class=\"failed-transfer\">\(page.t("Cleaner")) \(failure.cleanerID): \(HTMLText.escape(reason)) "
                if session.role >= .finance {
                    body += "<form method=\"post\" action=\"/payouts/retry\">\(page.csrfField)"
                    body += "<input type=\"hidden\" name=\"run\" value=\"\(id)\"><input type=\"hidden\" name=\"cleaner\" value=\"\(failure.cleanerID)\">"
                    body += "<button>\(page.t("Retry transfer"))</button></form>"
                } else {
                    body += "(<a href=\"/jobs?state=discarded&amp;args=\(FormFields.encode("{\"cleanerID\": \(failure.cleanerID)}"))\">\(page.t("Job"))</a>)"
                }
                body += "</div>"
            }
            body += "</td><td><a href=\"/payouts/\(id).csv\" download>CSV</a></td></tr>"
        }
        if runs.isEmpty { body += "<tr><td colspan=\"\(headings.count)\">\(page.t("none"))</td></tr>" }
        body += "</tbody></table></div>"
        return page.render(title: "Payouts", current: "/payouts", body: body)
    }

    private func period(_ request: ConsoleRequest) throws -> PayoutPeriod {
        guard let text = request.fields["period"] else { throw Refusal(status: 400, message: "Give a period, e.g. 2026-W47.") }
        do {
            return try PayoutPeriod(text, timeZone: timeZone)
        } catch {
            throw Refusal(status: 400, message: "\(error)")
        }
    }

    func payoutPreview(_ request: ConsoleRequest, page: ConsolePage) async throws -> HTTPResponse {
        let period = try self.period(request)
        let dry = try await database.pool(for: .finance).withConnection { try PayoutRun.dryRun(period, on: $0) }
        var body = "<p class=\"notice\" id=\"dry-run\">\(page.t("Dry run: nothing was written.")) \(HTMLText.escape(period.name))</p>"
        body += "<div class=\"scroll\"><table class=\"cards\" id=\"payout-lines\"><thead><tr>"
        let headings = ["Cleaner", "Level", "Orders", "Gross", "Commission", "Bonus", "Penalty", "Net", "Payable"]
        for heading in headings { body += "<th>\(page.t(heading))</th>" }
        body += "</tr></thead><tbody>"
        for line in dry.lines {
            let cells = [
                "\(line.cleanerID) \(HTMLText.escape(line.cleanerName))", HTMLText.escape(line.level), "\(line.orders)",
                PayoutReport.yuan(line.grossFen), PayoutReport.yuan(line.commissionFen), PayoutReport.yuan(line.bonusFen),
                PayoutReport.yuan(line.penaltyFen), PayoutReport.yuan(line.netFen), PayoutReport.yuan(line.payableFen),
            ]
            body += "<tr>" + zip(headings, cells).map { "<td data-label=\"\(page.t($0))\">\($1)</td>" }.joined() + "</tr>"
        }
        let totals = PayoutReport.Totals(dry.lines)
        body += "<tr><th>\(page.t("Total"))</th><td></td><td>\(totals.orders)</td><td>\(PayoutReport.yuan(totals.gross))</td>"
        body += "<td>\(PayoutReport.yuan(totals.commission))</td><td>\(PayoutReport.yuan(totals.bonus))</td>"
        body += "<td>\(PayoutReport.yuan(totals.penalty))</td><td>\(PayoutReport.yuan(totals.net))</td><td>\(PayoutReport.yuan(totals.paid))</td></tr>"
        body += "</tbody></table></div><p><a href=\"/payouts\">← \(page.t("Payouts"))</a></p>"
        return page.render(title: "Preview (dry run)", current: "/payouts", body: body)
    }

    func payoutStart(_ request: ConsoleRequest, session: ConsoleSession) async throws -> HTTPResponse {
        let period = try self.period(request)
        let started = try await database.pool(for: .finance).withConnection { try PayoutRun.start(period, on: $0) }
        try await record(
            "payout_start", target: ["period": period.name, "run": String(started.runID)], count: started.cleanerJobs,
            session: session)
        return Self.redirect("/payouts")
    }

    /// One click retries one failed transfer through the platform's retry path
    /// (the same job, the same idempotency key: the cleaner is paid once); audited.
    func payoutRetry(_ request: ConsoleRequest, session: ConsoleSession) async throws -> HTTPResponse {
        guard let run = request.fields["run"].flatMap({ Int64($0) }), let cleaner = request.fields["cleaner"].flatMap({ Int64($0) })
        else { throw Refusal(status: 400, message: "Say which transfer: the run and cleaner fields (numbers).") }
        let retried = try await PayoutRun.retryFailedTransfer(
            runID: run, cleanerID: cleaner, timeZone: timeZone, on: database.pool(for: .finance))
        guard retried else {
            throw Refusal(
                status: 409, message: "Cleaner \(cleaner) has no failed transfer in run \(run) (already retried?); reload the payouts page.")
        }
        try await record("payout_retry", target: ["run": String(run), "cleaner": String(cleaner)], count: 1, session: session)
        return Self.redirect("/payouts")
    }

    func payoutCSV(_ id: Int64, session: ConsoleSession) async throws -> HTTPResponse {
        let lines = try await database.pool(for: session.role).withConnection { try PayoutRun.lines(id, on: $0) }
        return HTTPResponse(
            status: 200, reason: "OK", contentType: "text/csv; charset=utf-8",
            headers: [("Content-Disposition", "attachment; filename=\"payout-run-\(id).csv\""), ("Cache-Control", "no-store")],
            body: Array(PayoutReport.csv(lines).utf8))
    }
}
