import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import TestSupport
import XCTest

final class OrderReminderTests: XCTestCase {
    func testBookingSchedulesTheCustomersRemindersThatAreStillAhead() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let now = Date()
        let farAhead = now.addingTimeInterval(3 * 86_400)
        let order = try await fixture.order(customerID: customer.id, appointment: farAhead, now: now)
        let reminders = try await fixture.reminders(order)
        XCTAssertEqual(reminders.map(\.0), ["customer_24h", "customer_2h"])
        XCTAssertEqual(reminders.map(\.1), ["scheduled", "scheduled"])
        XCTAssertEqual(reminders[0].2.timeIntervalSince1970, farAhead.addingTimeInterval(-86_400).timeIntervalSince1970, accuracy: 0.001)
        XCTAssertEqual(reminders[1].2.timeIntervalSince1970, farAhead.addingTimeInterval(-7_200).timeIntervalSince1970, accuracy: 0.001)

        let soon = try await fixture.order(customerID: customer.id, appointment: now.addingTimeInterval(5 * 3600), now: now)
        let soonReminders = try await fixture.reminders(soon)
        XCTAssertEqual(soonReminders.map(\.0), ["customer_2h"], "a 24 h reminder whose time passed is not scheduled")
    }

    func testRescheduleCancelAndAssignKeepRemindersInStepWithTheOrder() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.cleaner()
        let now = Date()
        let first = now.addingTimeInterval(3 * 86_400)
        let order = try await fixture.order(customerID: customer.id, appointment: first, now: now)

        try await fixture.pool.withTransaction { connection in
            try OrderBooking.assign(orderID: order, cleanerID: cleaner.id, now: now, on: connection)
        }
        var reminders = try await fixture.reminders(order)
        XCTAssertEqual(Set(reminders.map(\.0)), ["customer_24h", "customer_2h", "cleaner_assigned", "cleaner_1h"])

        let moved = first.addingTimeInterval(86_400)
        try await fixture.pool.withTransaction { connection in
            try OrderBooking.reschedule(orderID: order, to: moved, now: now, on: connection)
        }
        reminders = try await fixture.reminders(order)
        let waiting = reminders.filter { $0.1 == "scheduled" }
        XCTAssertEqual(Set(waiting.map(\.0)), ["customer_24h", "customer_2h", "cleaner_1h"])
        XCTAssertTrue(waiting.allSatisfy { $0.2 > first.addingTimeInterval(-3 * 3600) }, "only reminders for the new time wait")
        XCTAssertEqual(reminders.filter { $0.1 == "cancelled" }.count, 3, "the old time's reminders were cancelled")

        try await fixture.pool.withTransaction { connection in
            try OrderBooking.cancel(orderID: order, now: now, on: connection)
        }
        reminders = try await fixture.reminders(order)
        XCTAssertFalse(reminders.contains { $0.1 == "scheduled" || $0.1 == "available" }, "\(reminders)")
        // Rolled back with the order: a failed booking leaves no reminder behind.
        struct Broken: Error {}
        let before = try await fixture.jobs(OrderReminder.self).count
        do {
            _ = try await fixture.pool.withTransaction { connection -> Int64 in
                _ = try OrderBooking.book(
                    OrderBooking.NewOrder(
                        customerID: customer.id, serviceTypeID: 1, address: "x", latitude: 31, longitude: 121,
                        appointmentStart: first, durationMinutes: 60, amountFen: 100),
                    now: now, on: connection)
                throw Broken()
            }
        } catch is Broken {}
        let after = try await fixture.jobs(OrderReminder.self).count
        XCTAssertEqual(after, before)
    }

    func testDueRemindersAreSentOnceAndStaleOnesNot() async throws {
        let fixture = try PlatformFixture()
        let customer = try await fixture.customer()
        let now = Date()
        let appointment = now.addingTimeInterval(3 * 86_400)
        let order = try await fixture.order(customerID: customer.id, appointment: appointment, now: now)
        let stale = try await fixture.order(customerID: customer.id, appointment: appointment, now: now)
        // The stale order moves without going through OrderBooking (a race): its
        // reminders still exist but carry the old time.
        _ = try await fixture.pool.query(
            "UPDATE platform.orders SET appointment_start = appointment_start + interval '1 hour' WHERE id = $1", [stale])
        // Make both orders' reminders due now (an operator's "run now"), and add a
        // duplicate run of one of them (the same reminder executing twice, as after a crash).
        let reminders = try await fixture.jobs(OrderReminder.self, state: .scheduled)
            .filter { [order, stale].contains($0.arguments.orderID) }
        XCTAssertEqual(reminders.count, 4)
        let administration = JobAdministration(database: fixture.pool)
        for reminder in reminders {
            let result = try await administration.retry(reminder.id)
            XCTAssertEqual(result, .done)
        }
        let twin = try XCTUnwrap(reminders.first { $0.arguments.orderID == order }).arguments
        try await JobQueueClient(database: fixture.pool).enqueue(try JobRequest(twin, queue: OrderReminder.queue))

        let provider = RecordingProvider()
        let services = PlatformServices(clock: .system, provider: provider, log: .silent)
        try await fixture.running(services) {
            _ = try await fixture.eventually {
                let unfinished = try await fixture.unfinishedJobs()
                let waiting = try await fixture.jobs(OrderReminder.self, state: .scheduled)
                    .filter { [order, stale].contains($0.arguments.orderID) }.count
                return unfinished == 0 && waiting == 0
            }
        }
        // Reminders only: the orders' dispatch also tells the customer that no cleaner is available yet.
        let reminderTemplates: Set = ["order_reminder_24h", "order_reminder_2h"]
        let notes = try await fixture.notifications(to: customer.phone).filter { reminderTemplates.contains($0.0) }
        XCTAssertEqual(notes.filter { $0.0 == "order_reminder_24h" }.count, 1, "\(notes)")
        XCTAssertEqual(notes.filter { $0.0 == "order_reminder_2h" }.count, 1, "\(notes)")
        XCTAssertEqual(notes.count, 2, "nothing for the stale order, nothing twice: \(notes)")
        XCTAssertTrue(notes.allSatisfy { $0.1 == "sent" }, "\(notes)")
        let sent = provider.messages.filter { $0.recipient == customer.phone && reminderTemplates.contains($0.templateCode) }
        XCTAssertEqual(sent.count, 2)
        XCTAssertTrue(sent.contains { $0.body.contains("日常保洁") && $0.body.contains("人民路1号") })
    }
}
