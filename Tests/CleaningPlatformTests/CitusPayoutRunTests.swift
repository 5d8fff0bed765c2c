import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// Refuses one cleaner's transfers until told to accept them, paying everyone else;
/// records every instruction, as a gateway honouring idempotency keys sees them.
private final class RefusingUntilFixedPayouts: PayoutProvider {
    private let refused: Int64
    private let state = Mutex<(fixed: Bool, calls: [PayoutInstruction])>((false, []))

    init(refusing cleaner: Int64) { refused = cleaner }

    func pay(_ instruction: PayoutInstruction) async throws -> PayoutResult {
        let fixed = state.withLock {
            $0.calls.append(instruction)
            return $0.fixed
        }
        if instruction.cleanerID == refused && !fixed { return .rejected(reason: "beneficiary account frozen") }
        return .paid(reference: "bank-\(instruction.idempotencyKey)")
    }

    func fix() { state.withLock { $0.fixed = true } }
    var instructions: [PayoutInstruction] { state.withLock { $0.calls } }
}

/// A payout run on a Citus cluster (issue 22, point 4), end to end with real workers.
/// Citus refuses batches, so there the run's payments form none and the payment that
/// pays the last line completes the run (docs/scaling.md, "The payout run on Citus").
/// What must hold is what holds on one server: every cleaner paid once, the ledger
/// balanced, the run completed — and a refused transfer holds the run open until it
/// is retried. On a single server the tests skip (PayoutTests cover the batch there).
final class CitusPayoutRunTests: XCTestCase {
    /// Cleaners with a completed order each in a period of their own.
    private func period(
        with cleaners: Int, _ fixture: PlatformFixture
    ) async throws -> (period: PayoutPeriod, cleaners: [Int64]) {
        let period = try PlatformFixture.uniquePayoutPeriod()
        let customer = try await fixture.customer().id
        var ids: [Int64] = []
        for index in 0..<cleaners {
            let id = try await fixture.cleaner(level: ["新手", "熟练", "金牌"][index % 3])
            ids.append(id)
            try await fixture.completedOrder(
                customer: customer, cleaner: id, paid: Int64(8_000 + 100 * index), at: period.start.addingTimeInterval(3600))
        }
        return (period, ids)
    }

    /// The run's lines, payout postings and settlement jobs, as rows to assert on
    /// and to print when an assertion fails.
    private struct RunState: CustomStringConvertible {
        /// cleaner → (line status, payout postings of the line)
        var lines: [Int64: (status: String, postings: Int64)]
        /// (cleaner, job state, batch id) of each settlement job
        var jobs: [(cleaner: Int64, state: String, batch: String?)]
        var status: String
        var completedAt: Date?

        var description: String {
            "run \(status) completed_at \(completedAt.map { "\($0)" } ?? "nil"); lines "
                + lines.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.status) ×\($0.value.postings)" }
                .joined(separator: ", ")
                + "; jobs " + jobs.map { "\($0.cleaner): \($0.state) batch \($0.batch ?? "none")" }.joined(separator: ", ")
        }
    }

    private func state(of runID: Int64, _ fixture: PlatformFixture) async throws -> RunState {
        let lines = try await fixture.pool.query(
            """
            SELECT i.cleaner_id, i.status,
                   (SELECT count(*) FROM platform.ledger_transactions AS t WHERE t.reference = 'payout:' || i.id)::int8
            FROM platform.payout_items AS i WHERE i.run_id = $1
            """, [runID]
        ).rows.map { try $0.decode((Int64, String, Int64).self) }
        let jobs = try await fixture.pool.query(
            """
            SELECT (args->>'runID')::int8, (args->>'cleanerID')::int8, state, batch_id FROM queue.jobs
            WHERE queue = $1 AND kind = $2 ORDER BY id
            """, [PayoutRun.queue, SettleCleanerPayout.kind]
        ).rows.map { try $0.decode((Int64, Int64, String, String?).self) }.filter { $0.0 == runID }
        let (status, completedAt) = try await fixture.pool.query(
            "SELECT status, completed_at FROM platform.payout_runs WHERE id = $1", [runID]
        ).first!.decode((String, Date?).self)
        return RunState(
            lines: Dictionary(uniqueKeysWithValues: lines.map { ($0.0, (status: $0.1, postings: $0.2)) }),
            jobs: jobs.map { (cleaner: $0.1, state: $0.2, batch: $0.3) }, status: status, completedAt: completedAt)
    }

    private func finishRunJobs(_ runID: Int64, _ fixture: PlatformFixture) async throws -> Int {
        try await fixture.jobs(FinishPayoutRun.self).filter { $0.arguments.runID == runID }.count
    }

    func testARunPaysEveryCleanerOnceBalancesTheLedgerAndCompletesWithoutABatch() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let (period, cleaners) = try await period(with: 9, fixture)
        let connection = try TestDatabase.connect()
        let dry = try PayoutRun.dryRun(period, on: connection)
        let started = try PayoutRun.start(period, on: connection)
        XCTAssertEqual(started.cleanerJobs, cleaners.count)
        let queued = try await state(of: started.runID, fixture)
        XCTAssertEqual(queued.jobs.count, cleaners.count, "one payment job per cleaner: \(queued)")
        XCTAssertTrue(queued.jobs.allSatisfy { $0.batch == nil }, "no batch on Citus: \(queued)")
        let callbacks = try await finishRunJobs(started.runID, fixture)
        XCTAssertEqual(callbacks, 0, "no batch callback on Citus")
        XCTAssertEqual(queued.status, "running", "\(queued)")

        // Two workers, four slots each: payments finish concurrently, and exactly one
        // of them (the last to lock the run) completes it.
        let payouts = RecordingPayouts()
        let services = PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)
        let completed = try await fixture.running(services) {
            try await fixture.running(services) {
                try await fixture.eventually(timeout: .seconds(120)) { try PayoutRun.isComplete(started.runID, on: connection) }
            }
        }
        let finished = try await state(of: started.runID, fixture)
        XCTAssertTrue(completed, "the run did not complete: \(finished)")
        XCTAssertNotNil(finished.completedAt, "\(finished)")
        XCTAssertEqual(Set(finished.lines.keys), Set(cleaners), "\(finished)")
        for (cleaner, line) in finished.lines {
            XCTAssertEqual(line.status, "paid", "cleaner \(cleaner): \(finished)")
            XCTAssertEqual(line.postings, 1, "cleaner \(cleaner)'s payout posted once: \(finished)")
        }
        XCTAssertTrue(finished.jobs.allSatisfy { $0.state == JobState.completed.rawValue }, "\(finished)")
        XCTAssertEqual(payouts.instructions.map(\.cleanerID).sorted(), cleaners.sorted(), "each cleaner paid once")
        XCTAssertEqual(try PayoutRun.lines(started.runID, on: connection), dry.lines, "paid what the dry run showed")
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0, "every ledger transaction balances")

        // The period again: already complete, nobody paid, nothing queued.
        let again = try PayoutRun.start(period, on: connection)
        XCTAssertTrue(again.alreadyComplete)
        let afterRerun = try await state(of: started.runID, fixture)
        XCTAssertEqual(afterRerun.jobs.count, cleaners.count, "\(afterRerun)")
        XCTAssertEqual(afterRerun.completedAt, finished.completedAt, "\(afterRerun)")
        XCTAssertEqual(payouts.instructions.count, cleaners.count)
    }

    func testARefusedTransferHoldsTheRunOpenUntilItIsRetriedThenTheRetryCompletesIt() async throws {
        let fixture = try PlatformFixture()
        try await fixture.requireCitus()
        let (period, cleaners) = try await period(with: 3, fixture)
        let refused = cleaners[1]
        let connection = try TestDatabase.connect()
        let started = try PayoutRun.start(period, on: connection)
        let payouts = RefusingUntilFixedPayouts(refusing: refused)
        let services = PlatformServices(provider: RecordingProvider(), payouts: payouts, log: .silent)

        try await fixture.running(services) {
            let others = try await fixture.eventually(timeout: .seconds(120)) {
                let state = try await self.state(of: started.runID, fixture)
                return state.jobs.count == 3 && state.jobs.allSatisfy { $0.state != JobState.available.rawValue
                    && $0.state != JobState.running.rawValue && $0.state != JobState.retryable.rawValue }
            }
            let held = try await state(of: started.runID, fixture)
            XCTAssertTrue(others, "the run's payments did not all finish: \(held)")
            XCTAssertEqual(held.status, "running", "a refused transfer holds the run open: \(held)")
            XCTAssertEqual(held.lines[refused]?.status, "settled", "\(held)")
            XCTAssertEqual(held.lines[refused]?.postings, 0, "\(held)")
            let failures = try PayoutRun.failures(started.runID, on: connection)
            XCTAssertEqual(failures.map(\.cleanerID), [refused], "\(held)")
            XCTAssertTrue(failures.first?.reason.contains("beneficiary account frozen") == true, "\(failures)")

            // Finance fixes the account and retries the transfer: the run completes.
            payouts.fix()
            let retried = try await PayoutRun.retryFailedTransfer(
                runID: started.runID, cleanerID: refused, timeZone: TimeZone(identifier: "Asia/Shanghai")!, on: fixture.pool)
            XCTAssertTrue(retried)
            let completed = try await fixture.eventually(timeout: .seconds(120)) {
                try PayoutRun.isComplete(started.runID, on: connection)
            }
            let afterRetry = try await state(of: started.runID, fixture)
            XCTAssertTrue(completed, "the retried transfer did not complete the run: \(afterRetry)")
        }
        let finished = try await state(of: started.runID, fixture)
        XCTAssertTrue(finished.lines.values.allSatisfy { $0.status == "paid" && $0.postings == 1 }, "\(finished)")
        let refusedCalls = payouts.instructions.filter { $0.cleanerID == refused }
        XCTAssertEqual(refusedCalls.count, 2, "refused once, paid once: \(refusedCalls)")
        XCTAssertEqual(Set(refusedCalls.map(\.idempotencyKey)).count, 1, "the retry pays with the same key: \(refusedCalls)")
        XCTAssertEqual(try PayoutRun.failures(started.runID, on: connection), [])
        let unbalanced = try await fixture.unbalancedLedgerTransactions()
        XCTAssertEqual(unbalanced, 0, "every ledger transaction balances")
    }
}
