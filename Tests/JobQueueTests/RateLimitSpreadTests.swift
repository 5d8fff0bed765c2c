import Foundation
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

/// Jobs refused a permit in the same window (`JobContext.acquire`) come back spread
/// over the blocking rule's permit interval, each by its own seeded share, not all at
/// the instant the first permit frees up; every one still runs, within the limit.
final class RateLimitSpreadTests: XCTestCase {
    func testJobsRefusedInOneWindowComeBackSpreadOverAPermitIntervalWithinTheLimit() async throws {
        let fixture = try QueueFixture()
        let key = TestDatabase.uniqueName("sms")
        let limit = RateLimit(key: key, limit: 3, per: .seconds(4))
        let jobs = 9
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in try await context.acquire(limit) }
        let ids = try await fixture.client.enqueue(
            try (0..<jobs).map { try JobRequest(Payload(number: $0, label: ""), queue: fixture.queue) }
        ).map(\.id)
        // Ten slots: the nine jobs are claimed together and ask for permits at once, so
        // three get one and six are refused while those three are in the window (4 s).
        let worker = try fixture.worker(handlers, concurrency: 10)
        try await worker.running {
            let refused = try await fixture.eventually { try await fixture.counts() == ["completed": 3, "scheduled": 6] }
            let firstRound = try await fixture.counts()
            XCTAssertTrue(refused, "expected 3 completed and 6 snoozed: \(firstRound)")
            // When the first permit frees up: the oldest of the three leaves the window.
            let permits = try await fixture.pool.query(
                "SELECT taken_at FROM queue.rate_limit_permits WHERE key = $1 ORDER BY taken_at", [key]
            ).rows.map { try $0.decode(0, as: Date.self) }
            XCTAssertEqual(permits.count, 3, "\(permits)")
            let freeAt = try XCTUnwrap(permits.first).addingTimeInterval(4)
            let blocked = RateLimit.Blocked(freeAt: freeAt, rule: limit.rules[0])
            let interval = (limit.rules[0].window / limit.rules[0].limit).seconds
            let snoozed = try await fixture.pool.query(
                "SELECT id, run_at FROM queue.jobs WHERE queue = $1 AND state = 'scheduled' ORDER BY id", [fixture.queue]
            ).rows.map { try $0.decode((Int64, Date).self) }
            var evidence: [String] = []
            for (id, runAt) in snoozed {
                let share = RateLimit.snoozeSpread(jobID: id, blocked).seconds
                let offset = runAt.timeIntervalSince(freeAt)
                evidence.append(String(format: "job %lld: run_at − free = %.3f s, its share %.3f s", id, offset, share))
                XCTAssertLessThan(share, interval, "a share stays within the permit interval")
                XCTAssertEqual(
                    share, interval * JobJitter(jobID: id, moment: freeAt).share, accuracy: 0.001,
                    "job \(id): its share is its jitter for the free moment")
                // At least its share past the free moment; at most a second more (the
                // time from the refusal to the outcome's own clock reading).
                XCTAssertGreaterThanOrEqual(offset, share - 0.001, "job \(id) came back before its share")
                XCTAssertLessThanOrEqual(offset, share + 1, "job \(id) came back later than its share")
            }
            XCTAssertEqual(
                Set(snoozed.map(\.1)).count, snoozed.count, "each snoozed job has its own time:\n\(evidence.joined(separator: "\n"))")

            let done = try await fixture.eventually(timeout: .seconds(90)) { try await fixture.counts() == ["completed": jobs] }
            let counts = try await fixture.counts()
            XCTAssertTrue(done, "not every job ran: \(counts)\n\(evidence.joined(separator: "\n"))")
        }
        let worst = try await fixture.pool.mostPermitsInAnyWindow(key: key, interval: .seconds(4))
        XCTAssertLessThanOrEqual(worst, 3, "never more than 3 permits in any 4 s")
        let permitted = try await fixture.pool.query(
            "SELECT count(DISTINCT job_id)::int8 FROM queue.rate_limit_permits WHERE key = $1", [key]
        ).scalar(Int64.self)
        XCTAssertEqual(permitted, Int64(jobs), "one permit per job")
        for id in ids {
            let row = try await fixture.row(id)
            XCTAssertEqual(row.attempt, 1, "job \(id): snoozes gave their attempts back")
            XCTAssertEqual(row.errors, [], "job \(id) snoozed, not failed")
        }
    }
}
