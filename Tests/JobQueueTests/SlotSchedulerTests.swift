import Foundation
@testable import JobQueue
import XCTest

/// The slot accounting the producer's claims and the listener's share (no database).
final class SlotSchedulerTests: XCTestCase {
    private func attempts(_ count: Int) -> [LeasedAttempt] {
        (0..<count).map { id in
            LeasedAttempt(
                job: ClaimedJob(
                    id: Int64(id), lease: JobLease(jobID: Int64(id), leaseID: 1, queue: "q"), kind: "k", queue: "q",
                    argumentsJSON: "{}", attempt: 1, maxAttempts: 1, priority: 0, tags: [], createdAt: .now, runAt: .now),
                leaseDeadline: .now + .seconds(60))
        }
    }

    func testReservationsOfBothClaimersNeverExceedTheSlotsAndBuffer() {
        let slots = SlotScheduler(concurrency: 4, prefetch: 8)
        // Jobs are short: the producer may claim ahead (4 slots + 8 buffered).
        _ = slots.accept(attempts(1), reservation: 0)
        _ = slots.slotFinished(after: 0.001)
        let listener = slots.reserveFreeSlots(batch: 10)
        XCTAssertEqual(listener, 4, "the listener takes the idle slots")
        let producer = slots.reserve(limitedAcrossProcesses: false, batch: 100)
        XCTAssertEqual(producer, 8, "the producer gets only the buffer's room beside them")
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0, "no idle slot is left to promise")
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: false, batch: 100), 0)

        // The listener's claim found two jobs: both start, the unused room comes back.
        slots.release(reservation: 2)
        XCTAssertEqual(slots.accept(attempts(2), reservation: 2).count, 2)
        XCTAssertTrue(slots.hasReservations, "the producer's claim is still in flight")
        // The producer's claim found eight: two start in the free slots, six wait.
        XCTAssertEqual(slots.accept(attempts(8), reservation: 8).count, 2)
        XCTAssertFalse(slots.hasReservations)
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0, "every slot runs")
    }

    func testAQueueLimitedAcrossProcessesReservesForFreeSlotsOnly() {
        let slots = SlotScheduler(concurrency: 2, prefetch: 8)
        _ = slots.accept(attempts(1), reservation: 0)
        _ = slots.slotFinished(after: 0.001)
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: true, batch: 100), 2)
    }

    func testNothingIsReservedOnceStopping() {
        let slots = SlotScheduler(concurrency: 2, prefetch: 0)
        slots.stop(gracePeriod: .zero)
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0)
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: false, batch: 10), 0)
        XCTAssertEqual(slots.accept(attempts(1), reservation: 0).count, 0, "a stopped scheduler starts nothing")
        XCTAssertEqual(slots.takeUnstarted().count, 1, "what arrives after the stop is given back")
    }
}

final class WakeSignalTests: XCTestCase {
    func testASignalSentWhileNobodyWaitsIsKeptForTheNextWait() async {
        let wake = WakeSignal()
        wake.signal()
        wake.signal()
        let first = await wake.wait(timeout: .seconds(3600))
        XCTAssertTrue(first, "the kept signal ends the wait")
        let second = await wake.wait(timeout: .milliseconds(1))
        XCTAssertFalse(second, "signals collapse into one wake-up")
    }

    func testASignalWakesAWaiter() async {
        let wake = WakeSignal()
        let waiter = Task { await wake.wait(timeout: .seconds(3600)) }
        wake.signal()  // before or after the waiter registered: either way it is woken
        let signalled = await waiter.value
        XCTAssertTrue(signalled)
    }

    func testCancellationEndsAWait() async {
        let wake = WakeSignal()
        let waiter = Task { await wake.wait(timeout: .seconds(3600)) }
        waiter.cancel()
        let signalled = await waiter.value
        XCTAssertFalse(signalled)
    }

    /// A wait ends at its deadline whether a timer of an earlier wait is still armed
    /// (later or earlier than this deadline) or not.
    func testAWaitEndsAtItsDeadlineWhateverTimersEarlierWaitsLeft() async {
        let wake = WakeSignal()
        let long = Task { await wake.wait(timeout: .seconds(3600)) }
        long.cancel()
        _ = await long.value
        let afterALongerTimer = await wake.wait(timeout: .milliseconds(1))
        XCTAssertFalse(afterALongerTimer)
        let short = Task { await wake.wait(timeout: .milliseconds(20)) }
        wake.signal()
        _ = await short.value
        let afterAShorterTimer = await wake.wait(timeout: .milliseconds(60))
        XCTAssertFalse(afterAShorterTimer)
    }
}
