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

    /// Idle slots waiting in `nextAttempt`, as the producer's slot tasks wait; returns
    /// once all of them are parked (a wait for the scheduler's state, not for time).
    private func park(_ count: Int, on slots: SlotScheduler) async -> [Task<LeasedAttempt?, Never>] {
        let expected = slots.parkedCount + count
        let parked = (0..<count).map { _ in Task { await slots.nextAttempt() } }
        let deadline = ContinuousClock.now + .seconds(30)
        while slots.parkedCount < expected && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
        XCTAssertEqual(slots.parkedCount, expected, "slots still not parked after 30 s")
        return parked
    }

    func testReservationsOfBothClaimersNeverExceedTheSlotsAndBuffer() async {
        let slots = SlotScheduler(concurrency: 4, prefetch: 8)
        _ = await park(4, on: slots)
        // Jobs are short: the producer may claim ahead (4 slots + 8 buffered).
        XCTAssertEqual(slots.accept(attempts(1), reservation: 0), 1)
        _ = slots.slotFinished(after: 0.001)
        _ = await park(1, on: slots)
        let listener = slots.reserveFreeSlots(batch: 10)
        XCTAssertEqual(listener, 4, "the listener takes the idle slots")
        let producer = slots.reserve(limitedAcrossProcesses: false, batch: 100)
        XCTAssertEqual(producer, 8, "the producer gets only the buffer's room beside them")
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0, "no idle slot is left to promise")
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: false, batch: 100), 0)

        // The listener's claim found two jobs: both start, the unused room comes back.
        slots.release(reservation: 2)
        XCTAssertEqual(slots.accept(attempts(2), reservation: 2), 2)
        XCTAssertTrue(slots.hasReservations, "the producer's claim is still in flight")
        // The producer's claim found eight: two start in the free slots, six wait.
        XCTAssertEqual(slots.accept(attempts(8), reservation: 8), 2)
        XCTAssertFalse(slots.hasReservations)
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0, "every slot runs")
    }

    func testAQueueLimitedAcrossProcessesReservesForFreeSlotsOnly() async {
        let slots = SlotScheduler(concurrency: 2, prefetch: 8)
        _ = await park(1, on: slots)
        XCTAssertEqual(slots.accept(attempts(1), reservation: 0), 1)
        _ = slots.slotFinished(after: 0.001)
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: true, batch: 100), 2)
    }

    /// Whoever claimed (the listener's thread, the producer) resumes the idle slot
    /// with the attempt itself.
    func testAParkedSlotIsHandedTheAcceptedAttempt() async {
        let slots = SlotScheduler(concurrency: 1, prefetch: 0)
        let slot = await park(1, on: slots)[0]
        let claimed = attempts(1)
        XCTAssertEqual(slots.reserveFreeSlots(batch: 1), 1, "the idle slot may be promised to a claim")
        XCTAssertEqual(slots.accept(claimed, reservation: 1), 1)
        let started = await slot.value
        XCTAssertTrue(started === claimed[0], "the parked slot runs the accepted attempt")
        XCTAssertEqual(slots.reserveFreeSlots(batch: 1), 0, "the slot counts as running")
    }

    /// An attempt accepted while the only free slot is between its last job and parking
    /// waits in the buffer, and the slot takes it as it parks: it is never stranded.
    func testASlotAboutToParkTakesWhatWasAcceptedMeanwhile() async {
        let slots = SlotScheduler(concurrency: 1, prefetch: 0)
        _ = await park(1, on: slots)
        XCTAssertEqual(slots.accept(attempts(1), reservation: 0), 1)
        let (next, _) = slots.slotFinished(after: 0.001)
        XCTAssertNil(next, "nothing buffered: the slot goes idle")
        let claimed = attempts(1)
        XCTAssertEqual(slots.accept(claimed, reservation: 0), 0, "no slot is parked yet")
        let taken = await slots.nextAttempt()
        XCTAssertTrue(taken === claimed[0], "the slot takes the buffered attempt instead of parking")
        XCTAssertEqual(slots.parkedCount, 0)
    }

    func testStoppingEndsParkedSlots() async {
        let slots = SlotScheduler(concurrency: 2, prefetch: 0)
        let parked = await park(2, on: slots)
        slots.stop(gracePeriod: .zero)
        for slot in parked {
            let attempt = await slot.value
            XCTAssertNil(attempt, "a parked slot ends at the stop")
        }
        let late = await slots.nextAttempt()
        XCTAssertNil(late, "a slot that parks after the stop ends too")
    }

    func testNothingIsReservedOnceStopping() {
        let slots = SlotScheduler(concurrency: 2, prefetch: 0)
        slots.stop(gracePeriod: .zero)
        XCTAssertEqual(slots.reserveFreeSlots(batch: 10), 0)
        XCTAssertEqual(slots.reserve(limitedAcrossProcesses: false, batch: 10), 0)
        XCTAssertEqual(slots.accept(attempts(1), reservation: 0), 0, "a stopped scheduler starts nothing")
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
