import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// Records transfers; answers like a gateway that honours idempotency keys.
final class RecordingPayouts: PayoutProvider {
    private let calls = Mutex<[PayoutInstruction]>([])

    func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult {
        calls.withLock { $0.append(instruction) }
        return .paid(reference: "bank-\(instruction.idempotencyKey)")
    }

    var instructions: [PayoutInstruction] { calls.withLock { $0 } }
}

final class PayoutTests: XCTestCase {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    private func review(_ fixture: PlatformFixture, order: Int64, rating: Int, comment: String, at: Date) async throws {
        _ = try await fixture.pool.query(
            "INSERT INTO platform.reviews (order_id, rating, comment, created_at) VALUES ($1, $2::int2, $3, $4)",
            [order, Int64(rating), comment, at])
    }

    private func upheldComplaint(_ fixture: PlatformFixture, order: Int64, at: Date) async throws {
        _ = try await fixture.pool.query(
            "INSERT INTO platform.complaints (order_id, reason, status, outcome, created_at, resolved_at) VALUES ($1, '迟到', 'upheld', 'upheld', $2, $2)",
            [order, at])
    }

    private func runToCompletion(
        _ period: PayoutPeriod, _ fixture: PlatformFixture, payouts: RecordingPayouts
    ) async throws -> [PayoutLine] {
        let connection = try TestDatabase.connect()
        let started = try PayoutRun.start(period, on: connection)
        let services = PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)
        try await fixture.running(services) {
            _ = try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(started.runID, on: connection) }
        }
        XCTAssertTrue(try PayoutRun.isComplete(started.runID, on: connection))
        return try PayoutRun.lines(started.runID, on: connection)
    }

    private func assertLedgerBalances(_ fixture: PlatformFixture) async throws {
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0, "every ledger transaction balances")
    }

    func testAHandComputedPeriodThenANegativeNetCarriedIntoTheNext() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let next = try PayoutPeriod(
            PayoutPeriod.previous(to: period.end.addingTimeInterval(8 * 86_400), timeZone: shanghai).name, timeZone: shanghai)
        let customer = try await fixture.customer().id
        let novice = try await fixture.cleaner(level: "新手")  // 25 %
        let gold = try await fixture.cleaner(level: "金牌")  // 15 %
        let skilled = try await fixture.cleaner(level: "熟练")  // 20 %
        let inPeriod = period.start.addingTimeInterval(2 * 86_400)

        let a1 = try await fixture.completedOrder(customer: customer, cleaner: novice, paid: 15_000, at: inPeriod)
        let a2 = try await fixture.completedOrder(customer: customer, cleaner: novice, paid: 9_999, at: inPeriod)
        try await review(fixture, order: a1, rating: 5, comment: "很干净", at: inPeriod)
        try await review(fixture, order: a2, rating: 5, comment: "  ", at: inPeriod)  // no comment: no bonus
        try await upheldComplaint(fixture, order: a2, at: inPeriod)
        let b1 = try await fixture.completedOrder(customer: customer, cleaner: gold, paid: 10_000, at: inPeriod)
        try await upheldComplaint(fixture, order: b1, at: inPeriod)
        try await upheldComplaint(fixture, order: b1, at: inPeriod)
        let c1 = try await fixture.completedOrder(customer: customer, cleaner: skilled, paid: 5_000, at: inPeriod)
        for _ in 0..<3 { try await upheldComplaint(fixture, order: c1, at: inPeriod) }
        // Just outside the period on both sides: not in this run.
        try await fixture.completedOrder(customer: customer, cleaner: novice, paid: 777, at: period.start.addingTimeInterval(-1))
        try await fixture.completedOrder(customer: customer, cleaner: novice, paid: 888, at: period.end)

        let payouts = RecordingPayouts()
        let lines = try await runToCompletion(period, fixture, payouts: payouts)
        let byCleaner = Dictionary(uniqueKeysWithValues: lines.map { ($0.cleanerID, $0) })
        // 15000×25 % = 3750; 9999×25 % = 2499.75 → 2500 (half up); +500 bonus; −2000 penalty.
        XCTAssertEqual(byCleaner[novice].map { [$0.orders, Int($0.grossFen), Int($0.commissionFen), Int($0.bonusFen), Int($0.penaltyFen), Int($0.netFen)] },
                       [2, 24_999, 6_250, 500, 2_000, 17_249])
        XCTAssertEqual(byCleaner[gold]?.netFen, 10_000 - 1_500 - 4_000)
        XCTAssertEqual(byCleaner[skilled]?.netFen, 5_000 - 1_000 - 6_000)
        XCTAssertEqual(byCleaner[skilled]?.payableFen, 0)
        XCTAssertEqual(byCleaner[skilled]?.carryOutFen, 2_000)
        XCTAssertEqual(
            payouts.instructions.map { [$0.cleanerID, $0.amountFen] }.sorted { $0[0] < $1[0] },
            [[novice, 17_249], [gold, 4_500]].sorted { $0[0] < $1[0] }, "paid once each; nothing for a negative net")
        try await assertLedgerBalances(fixture)
        let owed = try await fixture.ledgerBalance("cleaner:\(skilled):receivable")
        XCTAssertEqual(owed, 2_000, "the negative net is a receivable")
        let noviceWallet = try await fixture.ledgerBalance("cleaner:\(novice):wallet")
        XCTAssertEqual(noviceWallet, 0, "settled and paid out")

        // The CSV's totals equal the ledger's.
        let csv = PayoutReport.csv(lines)
        let totals = try XCTUnwrap(csv.split(separator: "\n").last?.split(separator: ",", omittingEmptySubsequences: false))
        let paidInLedger = try await fixture.pool.query(
            """
            SELECT COALESCE(sum(e.amount_fen), 0)::int8 FROM platform.ledger_entries AS e
            JOIN platform.ledger_transactions AS t ON t.id = e.transaction_id
            JOIN platform.payout_items AS i ON t.reference = 'payout:' || i.id
            JOIN platform.ledger_accounts AS a ON a.id = e.account_id
            WHERE a.code = 'platform:cash' AND i.run_id = (SELECT id FROM platform.payout_runs WHERE period = $1)
            """, [period.name]
        ).scalar(Int64.self)
        XCTAssertEqual(Int64(totals[10]), -paidInLedger, "paid column total = cash paid out in the ledger")
        XCTAssertEqual(totals[0], "TOTAL")

        // Next week the skilled cleaner's 10 000 order first repays the 2 000 owed.
        try await fixture.completedOrder(customer: customer, cleaner: skilled, paid: 10_000, at: next.start.addingTimeInterval(3600))
        let nextLines = try await runToCompletion(next, fixture, payouts: payouts)
        let carried = try XCTUnwrap(nextLines.first { $0.cleanerID == skilled })
        XCTAssertEqual(carried.carriedInFen, 2_000)
        XCTAssertEqual(carried.netFen, 10_000 - 2_000 - 2_000)
        let owedAfter = try await fixture.ledgerBalance("cleaner:\(skilled):receivable")
        XCTAssertEqual(owedAfter, 0)
        try await assertLedgerBalances(fixture)
    }

    /// The week after `period`.
    private func week(after period: PayoutPeriod) throws -> PayoutPeriod {
        try PayoutPeriod(
            PayoutPeriod.previous(to: period.end.addingTimeInterval(8 * 86_400), timeZone: shanghai).name, timeZone: shanghai)
    }

    /// A run's totals as the ledger moved them (its settlement and payout
    /// transactions), in the report's terms.
    private func ledgerTotals(run runID: Int64, _ fixture: PlatformFixture) async throws -> [Int64] {
        let row = try await fixture.pool.query(
            """
            SELECT COALESCE(sum(e.amount_fen) FILTER (WHERE a.code = 'platform:order_clearing'), 0)::int8,
                   COALESCE(-sum(e.amount_fen) FILTER (WHERE a.code = 'platform:commission'), 0)::int8,
                   COALESCE(sum(e.amount_fen) FILTER (WHERE a.code = 'platform:bonus_expense'), 0)::int8,
                   COALESCE(-sum(e.amount_fen) FILTER (WHERE a.code = 'platform:penalty_income'), 0)::int8,
                   COALESCE(-sum(e.amount_fen) FILTER (WHERE a.code LIKE 'cleaner:%:receivable' AND e.amount_fen < 0), 0)::int8,
                   COALESCE(-sum(e.amount_fen) FILTER (WHERE a.code = 'platform:cash'), 0)::int8,
                   COALESCE(sum(e.amount_fen) FILTER (WHERE a.code LIKE 'cleaner:%:receivable' AND e.amount_fen > 0), 0)::int8
            FROM platform.payout_items AS i
            JOIN platform.ledger_transactions AS t ON t.reference IN ('settlement:' || i.id, 'payout:' || i.id)
            JOIN platform.ledger_entries AS e ON e.transaction_id = t.id
            JOIN platform.ledger_accounts AS a ON a.id = e.account_id
            WHERE i.run_id = $1
            """, [runID]
        ).first!.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        return [row.0, row.1, row.2, row.3, row.4, row.5, row.6]
    }

    private func reportTotals(_ lines: [PayoutLine]) -> [Int64] {
        let totals = PayoutReport.Totals(lines)
        return [totals.gross, totals.commission, totals.bonus, totals.penalty, totals.carriedIn, totals.paid, totals.carryOut]
    }

    func testACleanerWhoOnlyCarriesAReceivableHasALineAndTheReportEqualsTheLedger() async throws {
        let fixture = try PlatformFixture()
        let week1 = try PlatformFixture.uniquePayoutPeriod()
        let week0 = PayoutPeriod.previous(to: week1.start, timeZone: shanghai)
        let week2 = try week(after: week1)
        let week3 = try week(after: week2)
        let customer = try await fixture.customer().id
        let owing = try await fixture.cleaner(level: "熟练")  // 20 %
        let other = try await fixture.cleaner(level: "新手")  // 25 %

        // Week 1: the only order is refunded in full, and a complaint about it is upheld.
        let refunded = try await fixture.completedOrder(customer: customer, cleaner: owing, paid: 5_000, at: week1.start)
        _ = try await fixture.pool.query("UPDATE platform.orders SET refunded_fen = paid_fen WHERE id = $1", [refunded])
        try await upheldComplaint(fixture, order: refunded, at: week1.start.addingTimeInterval(3600))
        let payouts = RecordingPayouts()
        let first = try await runToCompletion(week1, fixture, payouts: payouts)
        let fined = try XCTUnwrap(first.first { $0.cleanerID == owing })
        XCTAssertEqual(
            [Int64(fined.orders), fined.grossFen, fined.commissionFen, fined.penaltyFen, fined.carryOutFen], [1, 0, 0, 2_000, 2_000],
            "a refunded order is settled and counted, adding what was kept (nothing) to gross")

        // Week 2: no orders, no reviews, no complaints, but 2 000 fen still owed: a line.
        try await fixture.completedOrder(customer: customer, cleaner: other, paid: 20_000, at: week2.start.addingTimeInterval(60))
        let second = try await runToCompletion(week2, fixture, payouts: payouts)
        let carried = try XCTUnwrap(second.first { $0.cleanerID == owing }, "the receivable carried through week 2 has a line")
        XCTAssertEqual(
            [Int64(carried.orders), carried.grossFen, carried.carriedInFen, carried.netFen, carried.payableFen, carried.carryOutFen],
            [0, 0, 2_000, -2_000, 0, 2_000])
        let csv = PayoutReport.csv(second)
        XCTAssertTrue(csv.hasPrefix("cleaner_id,cleaner_name,level,settled_orders_incl_refunded,gross_fen_paid_minus_refunded,"))
        XCTAssertTrue(csv.contains("\n\(owing),李四,熟练,0,0,0,0,0,2000,-2000,0,2000\n"), csv)
        let run2 = try await fixture.pool.query("SELECT id FROM platform.payout_runs WHERE period = $1", [week2.name])
            .scalar(Int64.self)
        let ledger2 = try await ledgerTotals(run: run2, fixture)
        XCTAssertEqual(reportTotals(second), ledger2, "gross, commission, bonus, penalty, carried in, paid, carried out")
        let audit2 = try PayoutRunAudit.of(week2, on: try TestDatabase.connect())
        XCTAssertEqual(audit2.failures, [], "the independent audit expects the carried receivable's line too")

        // Dry runs: week 1 is complete and shows its recorded lines; week 0 (before
        // the debt arose) would not carry it.
        let connection = try TestDatabase.connect()
        let dryWeek1 = try PayoutRun.dryRun(week1, on: connection)
        XCTAssertTrue(dryWeek1.alreadyComplete)
        XCTAssertEqual(dryWeek1.lines, first)
        let dryWeek0 = try PayoutRun.dryRun(week0, on: connection)
        XCTAssertNil(dryWeek0.lines.first { $0.cleanerID == owing })

        // Week 3: an order repays what is owed.
        try await fixture.completedOrder(customer: customer, cleaner: owing, paid: 10_000, at: week3.start.addingTimeInterval(60))
        let third = try await runToCompletion(week3, fixture, payouts: payouts)
        let repaid = try XCTUnwrap(third.first { $0.cleanerID == owing })
        XCTAssertEqual([repaid.carriedInFen, repaid.netFen, repaid.carryOutFen], [2_000, 10_000 - 2_000 - 2_000, 0])
        let run3 = try await fixture.pool.query("SELECT id FROM platform.payout_runs WHERE period = $1", [week3.name])
            .scalar(Int64.self)
        let ledger3 = try await ledgerTotals(run: run3, fixture)
        XCTAssertEqual(reportTotals(third), ledger3)
        let audit3 = try PayoutRunAudit.of(week3, on: connection)
        XCTAssertEqual(audit3.failures, [])
        let owedAfter = try await fixture.ledgerBalance("cleaner:\(owing):receivable")
        XCTAssertEqual(owedAfter, 0)
        try await assertLedgerBalances(fixture)
    }

    func testRerunsDryRunsAndConcurrentRunsNeverPayTwice() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        var cleaners: [Int64] = []
        for index in 0..<12 {
            let id = try await fixture.cleaner(level: ["新手", "熟练", "金牌"][index % 3])
            cleaners.append(id)
            try await fixture.completedOrder(
                customer: customer, cleaner: id, paid: Int64(1_000 + index), at: period.start.addingTimeInterval(3600))
        }
        let counts = { () async throws -> [Int64] in
            let row = try await fixture.pool.query(
                """
                SELECT (SELECT count(*) FROM platform.ledger_transactions)::int8, (SELECT count(*) FROM platform.payout_items)::int8,
                       (SELECT count(*) FROM platform.order_settlements)::int8
                """).first!
            let (transactions, items, settled) = try row.decode((Int64, Int64, Int64).self)
            return [transactions, items, settled]
        }
        let before = try await counts()
        let dry = try PayoutRun.dryRun(period, on: try TestDatabase.connect())
        let afterDry = try await counts()
        XCTAssertEqual(before, afterDry, "a dry run writes nothing")
        XCTAssertNil(dry.run, "no run for the period yet")
        XCTAssertEqual(dry.lines.count, 12)

        // Two runs of the same period started at once, two workers.
        let configuration = fixture.configuration
        let starts = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let session = PostgresSession(configuration: configuration)
                    return try await session.withConnection { try PayoutRun.start(period, on: $0).runID }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(Set(starts).count, 1, "one run per period")
        let payouts = RecordingPayouts()
        let services = PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)
        let connection = try TestDatabase.connect()
        try await fixture.running(services) {
            try await fixture.running(services) {
                _ = try await fixture.eventually(timeout: .seconds(60)) { try PayoutRun.isComplete(starts[0], on: connection) }
            }
        }
        let lines = try PayoutRun.lines(starts[0], on: connection)
        XCTAssertEqual(lines, dry.lines, "the run paid exactly what the dry run showed")
        XCTAssertEqual(payouts.instructions.count, 12)
        XCTAssertEqual(Set(payouts.instructions.map(\.cleanerID)), Set(cleaners))

        // Running the period again pays nobody and posts nothing.
        let afterRun = try await counts()
        let again = try PayoutRun.start(period, on: connection)
        XCTAssertTrue(again.alreadyComplete)
        let afterRerun = try await counts()
        XCTAssertEqual(afterRun, afterRerun)
        XCTAssertEqual(payouts.instructions.count, 12)
        try await assertLedgerBalances(fixture)

        // A dry run of the completed period says so and shows the run's own figures.
        let dryAfter = try PayoutRun.dryRun(period, on: connection)
        XCTAssertEqual(dryAfter.run?.id, starts[0])
        XCTAssertTrue(dryAfter.alreadyComplete)
        XCTAssertEqual(dryAfter.added, [])
        XCTAssertEqual(PayoutReport.csv(dryAfter.lines), PayoutReport.csv(lines), "the same report as the run's")
    }

    func testWithdrawalsAtTheBalanceArePaidAndOverItRejected() async throws {
        let fixture = try PlatformFixture()
        let cleaner = try await fixture.cleaner(level: "新手")
        try await fixture.creditWallet(of: cleaner, fen: 1_000)
        var ids: [Int64] = []
        for amount: Int64 in [1_000, 1] {
            ids.append(try await fixture.pool.query(
                "INSERT INTO platform.withdrawals (cleaner_id, amount_fen) VALUES ($1, $2) RETURNING id", [cleaner, amount]
            ).scalar(Int64.self))
        }
        // The second is processed only after the first (same order as requested).
        for id in ids {
            try await JobQueueClient(database: fixture.pool).enqueue(
                try JobRequest(ProcessWithdrawalArguments(withdrawalID: id), queue: PayoutRun.queue))
            let payouts = RecordingPayouts()
            try await fixture.running(PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)) {
                _ = try await fixture.eventually {
                    try await fixture.pool.query("SELECT status FROM platform.withdrawals WHERE id = $1", [id]).scalar(String.self)
                        != "requested"
                }
            }
        }
        let results = try await fixture.pool.query(
            "SELECT status, COALESCE(reason, '') FROM platform.withdrawals WHERE id = ANY($1::int8[]) ORDER BY id", [ids]
        ).rows.map { try $0.decode((String, String).self) }
        XCTAssertEqual(results.map(\.0), ["paid", "rejected"])
        XCTAssertTrue(results[1].1.contains("insufficient balance"), results[1].1)
        let wallet = try await fixture.ledgerBalance("cleaner:\(cleaner):wallet")
        XCTAssertEqual(wallet, 0, "never below zero")
        try await assertLedgerBalances(fixture)
    }

    /// A payment job queued by the version that settled each cleaner in its own job
    /// finds its run without lines: it settles the run, and everyone is paid once.
    func testAJobQueuedBeforeSetBasedSettlementSettlesTheRunAndEveryoneIsPaidOnce() async throws {
        let fixture = try PlatformFixture()
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        var cleaners: [Int64] = []
        for index in 0..<3 {
            let cleaner = try await fixture.cleaner(level: "新手")
            cleaners.append(cleaner)
            for order in 0..<2 {
                try await fixture.completedOrder(
                    customer: customer, cleaner: cleaner, paid: Int64(4_000 + 10 * index + order),
                    at: period.start.addingTimeInterval(3600))
            }
        }
        // What the older `PayoutRun.start` left: the run and a job, nothing settled.
        let runID = try await fixture.pool.query(
            "INSERT INTO platform.payout_runs (period, period_start, period_end) VALUES ($1, $2, $3) RETURNING id",
            [period.name, period.start, period.end]
        ).scalar(Int64.self)
        _ = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(
                SettleCleanerPayoutArguments(runID: runID, cleanerID: cleaners[0]), queue: PayoutRun.queue,
                uniqueKey: "payout:\(runID):\(cleaners[0])", uniqueScope: .always, batchID: "payout-run-\(runID)"))
        let paidLines = {
            try await fixture.pool.query(
                "SELECT count(*)::int8 FROM platform.payout_items WHERE run_id = $1 AND status = 'paid'", [runID]
            ).scalar(Int64.self)
        }
        let payouts = RecordingPayouts()
        let allPaid = try await fixture.running(PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)) {
            try await fixture.eventually(timeout: .seconds(60)) { try await paidLines() == 3 }
        }
        XCTAssertTrue(allPaid)
        XCTAssertEqual(payouts.instructions.map(\.cleanerID).sorted(), cleaners.sorted(), "each cleaner paid once")
        XCTAssertEqual(payouts.instructions.map(\.amountFen).sorted(), [6_001, 6_015, 6_031], "75 % of two orders each")
        let settled = try await fixture.pool.query(
            """
            SELECT count(*)::int8 FROM platform.order_settlements AS s
            JOIN platform.payout_items AS i ON i.id = s.payout_item_id WHERE i.run_id = $1
            """, [runID]
        ).scalar(Int64.self)
        XCTAssertEqual(settled, 6, "every order settled once")
        try await assertLedgerBalances(fixture)
    }

    func testTheDatabaseRefusesAnUnbalancedTransaction() async throws {
        let fixture = try PlatformFixture()
        do {
            _ = try await fixture.pool.withTransaction { connection in
                let transaction = try connection.query(
                    "INSERT INTO platform.ledger_transactions (kind, reference, description) VALUES ('settlement', $1, 'bad') RETURNING id",
                    [UUID().uuidString]
                ).scalar(Int64.self)
                let cash = try connection.query("SELECT id FROM platform.ledger_accounts WHERE code = 'platform:cash'").scalar(Int64.self)
                try connection.execute(
                    "INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen) VALUES ($1, $2, 100)",
                    [transaction, cash])
            }
            XCTFail("an unbalanced transaction committed")
        } catch let error as PostgresError {
            XCTAssertEqual(error.constraint, "ledger_transaction_balanced", "\(error)")
        }
    }

    func testPeriodsAreIsoWeeksInTheBusinessTimeZone() throws {
        let week = try PayoutPeriod("2026-W47", timeZone: shanghai)
        XCTAssertEqual(week.start, ISO8601DateFormatter().date(from: "2026-11-16T00:00:00+08:00"))
        XCTAssertEqual(week.end, ISO8601DateFormatter().date(from: "2026-11-23T00:00:00+08:00"))
        for bad in ["2026-W54", "2026-47", "W47", "2026-W4", "abcd-W10"] {
            XCTAssertThrowsError(try PayoutPeriod(bad, timeZone: shanghai), bad)
        }
    }
}

/// The withdrawal job's arguments as a client enqueues them.
struct ProcessWithdrawalArguments: JobArguments {
    static let kind = "payout.withdrawal"
    var withdrawalID: Int64
}

/// The payment job's arguments as an older `PayoutRun.start` enqueued them.
struct SettleCleanerPayoutArguments: JobArguments {
    static let kind = "payout.settle_cleaner"
    var runID: Int64
    var cleanerID: Int64
}
