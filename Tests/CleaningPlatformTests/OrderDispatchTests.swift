@testable import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// Dispatch: who is a candidate, how they rank, offers through the worker, accept
/// and decline, escalation, cancel and reschedule, and the races the database
/// decides (two real connections each).
final class OrderDispatchTests: XCTestCase {
    // MARK: - Candidates

    func testOnlyCleanersWhoCanReallyDoTheWholeAppointmentAreCandidates() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let appointment = DispatchPlace.tomorrow(hour: 10)
        let customer = try await fixture.customer()

        let eligible = try await fixture.availableCleaner(near: place)
        let resting = try await fixture.availableCleaner(near: place)
        _ = try await fixture.pool.query("UPDATE platform.cleaners SET status = 'resting' WHERE id = $1", [resting.id])
        // Suspended by the service-quality run: out of dispatch until reinstated.
        let suspended = try await fixture.availableCleaner(near: place)
        _ = try await fixture.pool.query(
            "UPDATE platform.cleaners SET status = $2 WHERE id = $1", [suspended.id, CleanerStatus.suspended])
        let uncertified = try await fixture.availableCleaner(near: place, skill: "windows")
        let lapsed = try await fixture.availableCleaner(near: place, certifiedUntil: appointment.addingTimeInterval(3600))
        let far = try await fixture.availableCleaner(near: place.moved(northKm: 15))
        let secondArea = try await fixture.availableCleaner(near: place.moved(northKm: 40))
        _ = try await fixture.pool.query(
            "INSERT INTO platform.cleaner_service_areas (cleaner_id, latitude, longitude, radius_km) VALUES ($1, $2, $3, 5)",
            [secondArea.id, place.latitude, place.longitude])
        // Several grid cells away, reaching the order with a radius above everyone else's.
        let wide = try await fixture.availableCleaner(near: place.moved(northKm: 28))
        _ = try await fixture.pool.query("UPDATE platform.cleaners SET radius_km = 30 WHERE id = $1", [wide.id])
        // 08:00–12:00 cannot hold 10:00–13:00 plus the travel buffer.
        let shortDay = try await fixture.availableCleaner(near: place, hours: (8, 12))
        // The same wall-clock hours in London are 15:00–05:00 in Shanghai.
        let london = try await fixture.availableCleaner(near: place, timeZone: "Europe/London")
        let onLeave = try await fixture.availableCleaner(near: place)
        _ = try await fixture.pool.query(
            "INSERT INTO platform.cleaner_time_off (cleaner_id, period) VALUES ($1, tstzrange($2, $3))",
            [onLeave.id, appointment.addingTimeInterval(-86_400), appointment.addingTimeInterval(3600)])
        let busy = try await fixture.availableCleaner(near: place)
        let other = try await fixture.book(customer: customer.id, at: place, appointment: appointment.addingTimeInterval(-2 * 3600))
        try await fixture.pool.withTransaction { try OrderBooking.assign(orderID: other, cleanerID: busy.id, now: Date(), on: $0) }
        let disliked = try await fixture.availableCleaner(near: place)
        try await fixture.reviewedOrder(customer: customer.id, cleaner: disliked.id, at: place, rating: 2)

        let order = try await fixture.book(customer: customer.id, at: place, appointment: appointment)
        let candidates = try await fixture.candidates(order)
        XCTAssertEqual(Set(candidates.map(\.cleanerID)), [eligible.id, secondArea.id, wide.id])
        for cleaner in [resting, suspended, uncertified, lapsed, far, shortDay, london, onLeave, busy, disliked] {
            XCTAssertFalse(candidates.contains { $0.cleanerID == cleaner.id })
        }
    }

    func testRankingIsExplainedByStoredComponentsAndTheWeightsTable() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let near = try await fixture.availableCleaner(near: place)
        let liked = try await fixture.availableCleaner(near: place.moved(northKm: 9))
        try await fixture.reviewedOrder(customer: customer.id, cleaner: liked.id, at: place, rating: 5)
        let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))

        let ranked = try await fixture.candidates(order)
        XCTAssertEqual(ranked.map(\.cleanerID), [near.id, liked.id], "closer first with the default weights")
        let likedComponents = try XCTUnwrap(ranked.last?.components)
        XCTAssertEqual(likedComponents["history"] as? Double, 1)
        XCTAssertEqual(likedComponents["customer_best_rating"] as? Int, 5)
        XCTAssertEqual(try XCTUnwrap(likedComponents["distance_km"] as? Double), 9, accuracy: 0.05, "great-circle km")

        // Weights are data: with history weighing most, the liked cleaner leads.
        let connection = try TestDatabase.connect()
        try connection.execute("BEGIN")
        try connection.execute("UPDATE platform.dispatch_weights SET weight = 5 WHERE component = 'history'")
        let reordered = try connection.query("SELECT cleaner_id FROM platform.dispatch_candidates($1, now())", [order])
            .rows.map { try $0.decode(0, as: Int64.self) }
        try connection.execute("ROLLBACK")
        XCTAssertEqual(reordered, [liked.id, near.id])

        // The offer keeps its rank, score and components; the round keeps the whole ranking.
        _ = try await fixture.round(order)
        let offer = try await fixture.pool.query(
            "SELECT cleaner_id, rank, components->>'distance_km' FROM platform.dispatch_offers WHERE order_id = $1", [order]
        ).rows.map { try $0.decode((Int64, Int32, String).self) }
        XCTAssertEqual(offer.map(\.0), [near.id])
        XCTAssertEqual(offer.map(\.1), [1])
        let ranking = try await fixture.pool.query(
            "SELECT jsonb_path_query_array(ranking, '$[*].cleaner_id')::text FROM platform.dispatch_rounds WHERE order_id = $1",
            [order]
        ).scalar(String.self)
        XCTAssertEqual(ranking, "[\(near.id), \(liked.id)]")
    }

    // MARK: - Through the worker

    func testABookingIsOfferedNotifiedAndAcceptedWithTheAssignEffects() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let best = try await fixture.availableCleaner(near: place)
        let second = try await fixture.availableCleaner(near: place.moved(northKm: 3))
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        try await fixture.running(services) {
            let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
            let offered = try await fixture.eventually { try await fixture.offers(order).count == 1 }
            XCTAssertTrue(offered)
            let offer = try await fixture.offers(order).first.required()
            XCTAssertEqual(offer.cleanerID, best.id)
            let told = try await fixture.eventually {
                Set(try await fixture.notifications(to: best.phone).filter { $0.1 == "sent" }.map(\.0))
                    == ["dispatch_offer_sms", "dispatch_offer_push"]
            }
            XCTAssertTrue(told, "the offered cleaner got an SMS and a push")
            let expiry = try await fixture.jobs(ExpireDispatchOffer.self).filter { $0.arguments.offerID == offer.id }
            XCTAssertEqual(expiry.map(\.state), [.scheduled], "the offer's expiry waits for its time")

            _ = try await fixture.pool.withTransaction {
                try OrderDispatch.accept(offerID: offer.id, cleanerID: best.id, now: Date(), on: $0)
            }
            let (status, cleaner) = try await fixture.pool.query(
                "SELECT status, cleaner_id FROM platform.orders WHERE id = $1", [order]
            ).first!.decode((String, Int64?).self)
            XCTAssertEqual(status, OrderStatus.accepted)
            XCTAssertEqual(cleaner, best.id)
            let assignedEffects = try await fixture.eventually {
                let cleanerTold = try await fixture.notifications(to: best.phone).contains { $0.0 == "cleaner_assigned" }
                let customerTold = try await fixture.notifications(to: customer.phone).contains { $0.0 == "order_status" }
                return cleanerTold && customerTold
            }
            XCTAssertTrue(assignedEffects, "accept ran assign: the cleaner's assignment message and the customer's status")
            let secondTold = try await fixture.notifications(to: second.phone)
            XCTAssertTrue(secondTold.isEmpty, "the second cleaner was never offered")
        }
    }

    func testDeclineAndExpiryReOfferThenEscalateThenRetryAfterBackOff() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let first = try await fixture.availableCleaner(near: place)
        let second = try await fixture.availableCleaner(near: place.moved(northKm: 3))
        let now = Date()
        // The worker's clock, moved on by the test so an expiry job run now finds its offer due.
        let clock = SteppedClock(now)
        let services = PlatformServices(clock: clock.platformClock, provider: RecordingProvider(), log: .silent)
        let operations = try await fixture.pool.query("SELECT operations_recipient FROM platform.dispatch_settings")
            .scalar(String.self)
        try await fixture.running(services) {
            let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
            let offered = try await fixture.eventually { try await fixture.offers(order).count == 1 }
            XCTAssertTrue(offered)
            let firstOffer = try await fixture.offers(order).first.required()
            XCTAssertEqual(firstOffer.cleanerID, first.id)
            try await fixture.pool.withTransaction {
                try OrderDispatch.decline(offerID: firstOffer.id, cleanerID: first.id, now: now, on: $0)
            }
            let reOffered = try await fixture.eventually { try await fixture.offers(order).count == 2 }
            XCTAssertTrue(reOffered, "declined: re-offered")
            let secondOffer = try await fixture.offers(order).last.required()
            XCTAssertEqual(secondOffer.cleanerID, second.id)
            XCTAssertEqual(secondOffer.round, 2)

            // The second cleaner ignores it: its expiry (run now, the clock past the expiry) ends the round.
            let later = clock.advance(by: 120)
            _ = try await JobQueueClient(database: fixture.pool).enqueue(
                try JobRequest(ExpireDispatchOffer(offerID: secondOffer.id), queue: OrderDispatch.queue))
            let escalated = try await fixture.eventually {
                try await fixture.notifications(to: customer.phone).contains { $0.0 == "dispatch_no_cleaner_yet" }
            }
            XCTAssertTrue(escalated, "nobody left: the customer is told no cleaner is available yet")
            let statuses = try await fixture.offers(order).map(\.status)
            XCTAssertEqual(statuses, ["declined", "expired"])
            let opsTold = try await fixture.pool.query(
                "SELECT count(*) FROM platform.notifications WHERE recipient = $1 AND dedupe_key = $2",
                [operations, "dispatch-escalated:\(order):1"]
            ).scalar(Int64.self)
            XCTAssertEqual(opsTold, 1, "operations told once")
            let retry = try await fixture.jobs(DispatchOrder.self).filter { $0.arguments.orderID == order && $0.arguments.round == 4 }
            XCTAssertEqual(retry.map(\.state), [.scheduled], "dispatch retries on a back-off")
            XCTAssertEqual(try XCTUnwrap(retry.first).runAt.timeIntervalSince(later), 900, accuracy: 1)
        }
    }

    func testDispatchGivesUpAndCancelsWhenTheAppointmentIsTooClose() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        try await fixture.running(services) {
            let order = try await fixture.book(customer: customer.id, at: place, appointment: Date().addingTimeInterval(3600))
            let cancelled = try await fixture.eventually {
                try await fixture.pool.query("SELECT status FROM platform.orders WHERE id = $1", [order]).scalar(String.self)
                    == OrderStatus.cancelled
            }
            XCTAssertTrue(cancelled)
            let told = try await fixture.eventually {
                try await fixture.notifications(to: customer.phone).contains { $0.0 == "dispatch_cancelled" }
            }
            XCTAssertTrue(told, "the customer is told why")
            let reason = try await fixture.pool.query(
                "SELECT end_reason FROM platform.order_dispatches WHERE order_id = $1", [order]
            ).scalar(String.self)
            XCTAssertEqual(reason, "no cleaner accepted before the appointment")
        }
    }

    func testABookingThroughTheSQLAPIStartsDispatchAndTheAppAcceptsThroughIt() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let name = TestDatabase.uniqueName("app")
        _ = try await fixture.pool.query("CREATE ROLE \(name) LOGIN IN ROLE cleaning_app")
        let app = try PostgresConnection.connect(
            PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(name)", applicationName: "sql-api-dispatch"))
        let order = try app.query(
            """
            SELECT platform.book_order(customer_id => $1, service_type_id => 1, address => '测试路2号', latitude => $2,
                longitude => $3, appointment_start => $4, duration_minutes => 180, amount_fen => 15000)
            """, [customer.id, place.latitude, place.longitude, DispatchPlace.tomorrow(hour: 10)]
        ).scalar(Int64.self)
        let firstRound = try await fixture.jobs(DispatchOrder.self).filter { $0.arguments.orderID == order }
        XCTAssertEqual(firstRound.map(\.arguments.round), [1], "booking queued the first round")
        XCTAssertEqual(firstRound.map(\.state), [.available])

        let step = try await fixture.round(order)
        XCTAssertEqual(step, "offered")
        let offer = try await fixture.offers(order).first.required()
        let accepted = try app.query("SELECT platform.accept_offer($1, $2)", [offer.id, cleaner.id]).scalar(Int64.self)
        XCTAssertEqual(accepted, order)
        let (status, assigned) = try await fixture.pool.query(
            "SELECT status, cleaner_id FROM platform.orders WHERE id = $1", [order]
        ).first!.decode((String, Int64?).self)
        XCTAssertEqual(status, OrderStatus.accepted)
        XCTAssertEqual(assigned, cleaner.id)
        let reminders = try await fixture.reminders(order).map(\.0)
        XCTAssertTrue(reminders.contains("cleaner_assigned"), "assign_order's effects: \(reminders)")
    }

    func testOfferMessagesAreValidOnlyAsLongAsTheOffer() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        try await fixture.running(services) {
            let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
            let offered = try await fixture.eventually { try await fixture.offers(order).count == 1 }
            XCTAssertTrue(offered)
            let offer = try await fixture.offers(order).first.required()
            let messages = try await fixture.pool.query(
                """
                SELECT template_code, expires_at, created_at FROM platform.notifications
                WHERE recipient = $1 AND template_code IN ('dispatch_offer_sms', 'dispatch_offer_push') ORDER BY 1
                """, [cleaner.phone]
            ).rows.map { try $0.decode((String, Date, Date).self) }
            XCTAssertEqual(messages.map(\.0), ["dispatch_offer_push", "dispatch_offer_sms"])
            for (template, expiresAt, _) in messages {
                XCTAssertEqual(
                    expiresAt.timeIntervalSince1970, offer.expiresAt.timeIntervalSince1970, accuracy: 0.001,
                    "\(template) ends with the offer, not after the template's 5 minutes")
            }
        }
    }

    func testAFrontEndCannotBackdateADecline() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
        _ = try await fixture.round(order)
        let offer = try await fixture.offers(order).first.required()
        let name = TestDatabase.uniqueName("app")
        _ = try await fixture.pool.query("CREATE ROLE \(name) LOGIN IN ROLE cleaning_app")
        let app = try PostgresConnection.connect(
            PostgresConfiguration(conninfo: try TestDatabase.url + "?user=\(name)", applicationName: "sql-api-decline"))
        do {
            _ = try app.query(
                "SELECT platform.decline_offer($1, $2, now() - interval '10 minutes')", [offer.id, cleaner.id])
            XCTFail("a decline ten minutes in the past was accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "22023", "\(error)")
        }
        let unanswered = try await fixture.offers(order).map(\.status)
        XCTAssertEqual(unanswered, ["open"])
        // At the present time the same front end declines it.
        _ = try app.query("SELECT platform.decline_offer($1, $2)", [offer.id, cleaner.id])
        let declined = try await fixture.offers(order).map(\.status)
        XCTAssertEqual(declined, ["declined"])
    }

    // MARK: - Cancel and reschedule

    func testCancelWithdrawsOpenOffersAndRescheduleStartsOver() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
        _ = try await fixture.round(order)
        let now = Date()

        try await fixture.pool.withTransaction {
            try OrderBooking.reschedule(orderID: order, to: DispatchPlace.tomorrow(hour: 14), now: now, on: $0)
        }
        var offers = try await fixture.offers(order)
        XCTAssertEqual(offers.map(\.status), ["withdrawn"])
        let generation = try await fixture.pool.query(
            "SELECT generation FROM platform.order_dispatches WHERE order_id = $1", [order]
        ).scalar(Int32.self)
        XCTAssertEqual(generation, 2)
        let restarted = try await fixture.jobs(DispatchOrder.self).filter { $0.arguments.orderID == order }
        XCTAssertTrue(restarted.contains { $0.arguments.generation == 2 && $0.arguments.round == 1 }, "a new first round")
        _ = try await fixture.pool.query("SELECT platform.dispatch_round($1, 2, 1, now())", [order])
        offers = try await fixture.offers(order)
        XCTAssertEqual(offers.map(\.status), ["withdrawn", "open"], "the same cleaner is offered the new time")

        try await fixture.pool.withTransaction { try OrderBooking.cancel(orderID: order, now: now, on: $0) }
        offers = try await fixture.offers(order)
        XCTAssertEqual(offers.map(\.status), ["withdrawn", "withdrawn"])
        let withdrawnMessages = try await fixture.pool.query(
            "SELECT count(*) FROM platform.notifications WHERE recipient = $1 AND template_code = 'dispatch_offer_withdrawn'",
            [cleaner.phone]
        ).scalar(Int64.self)
        XCTAssertEqual(withdrawnMessages, 2, "the cleaner is told each time an open offer is withdrawn")
        let reOffer = offers[1].id
        do {
            _ = try await fixture.pool.withTransaction {
                try OrderDispatch.accept(offerID: reOffer, cleanerID: cleaner.id, now: now, on: $0)
            }
            XCTFail("accepting a withdrawn offer of a cancelled order")
        } catch let refusal as OfferRefusal {
            XCTAssertEqual(refusal, .alreadyTaken(orderID: order))
        }
    }

    // MARK: - No double booking

    func testTwoCleanersAcceptingOneOrderAtOnceOneWinsTheOtherIsToldItIsTaken() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let a = try await fixture.availableCleaner(near: place, skill: "windows")
        let b = try await fixture.availableCleaner(near: place.moved(northKm: 1), skill: "windows")
        // Windows are offered in grab mode: both get an offer in the same round.
        let order = try await fixture.book(
            customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10), serviceType: 5, minutes: 120)
        _ = try await fixture.round(order)
        let offers = try await fixture.offers(order)
        XCTAssertEqual(Set(offers.map(\.cleanerID)), [a.id, b.id])
        let offerA = try XCTUnwrap(offers.first { $0.cleanerID == a.id })
        let offerB = try XCTUnwrap(offers.first { $0.cleanerID == b.id })

        let outcome = try await fixture.race(
            first: { try OrderDispatch.accept(offerID: offerA.id, cleanerID: a.id, now: Date(), on: $0) },
            second: { try OrderDispatch.accept(offerID: offerB.id, cleanerID: b.id, now: Date(), on: $0) })
        XCTAssertNil(outcome.first)
        XCTAssertEqual(outcome.second as? OfferRefusal, .alreadyTaken(orderID: order))
        let cleaner = try await fixture.pool.query("SELECT cleaner_id FROM platform.orders WHERE id = $1", [order])
            .scalar(Int64.self)
        XCTAssertEqual(cleaner, a.id)
        let answered = try await fixture.offers(order).map(\.status).sorted()
        XCTAssertEqual(answered, ["accepted", "withdrawn"])
    }

    func testOneCleanerAcceptingTwoOverlappingOrdersFromTwoConnectionsGetsOnlyOne() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let appointment = DispatchPlace.tomorrow(hour: 10)
        let first = try await fixture.book(customer: customer.id, at: place, appointment: appointment)
        let second = try await fixture.book(customer: customer.id, at: place, appointment: appointment.addingTimeInterval(3600))
        _ = try await fixture.round(first)
        _ = try await fixture.round(second)
        let firstOffer = try await fixture.offers(first).first.required()
        let secondOffer = try await fixture.offers(second).first.required()
        XCTAssertEqual([firstOffer.cleanerID, secondOffer.cleanerID], [cleaner.id, cleaner.id], "both offered before either accepted")

        let outcome = try await fixture.race(
            first: { try OrderDispatch.accept(offerID: firstOffer.id, cleanerID: cleaner.id, now: Date(), on: $0) },
            second: { try OrderDispatch.accept(offerID: secondOffer.id, cleanerID: cleaner.id, now: Date(), on: $0) })
        XCTAssertNil(outcome.first)
        XCTAssertEqual(outcome.second as? OfferRefusal, .overlapsAcceptedOrder(offerID: secondOffer.id))
        let statuses = try await fixture.pool.query(
            "SELECT status FROM platform.orders WHERE id = ANY($1) ORDER BY id", [[first, second]]
        ).rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(statuses, [OrderStatus.accepted, OrderStatus.waiting])

        // Not only the accept path: the database refuses any overlapping assignment.
        do {
            try await fixture.pool.withTransaction {
                try OrderBooking.assign(orderID: second, cleanerID: cleaner.id, now: Date(), on: $0)
            }
            XCTFail("an overlapping assignment was stored")
        } catch let error as PostgresError {
            XCTAssertEqual(error.constraint, "orders_no_double_booking")
        }
    }

    func testAnAcceptAfterTheOfferExpiredIsRefused() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))
        _ = try await fixture.round(order)
        let offer = try await fixture.offers(order).first.required()
        let late = offer.expiresAt.addingTimeInterval(1)
        for _ in 0..<2 {  // before and after its expiry job ran
            do {
                _ = try await fixture.pool.withTransaction {
                    try OrderDispatch.accept(offerID: offer.id, cleanerID: cleaner.id, now: late, on: $0)
                }
                XCTFail("accepted after expiry")
            } catch let refusal as OfferRefusal {
                XCTAssertEqual(refusal, .expired(offerID: offer.id))
            }
            _ = try await fixture.pool.query("SELECT platform.expire_offer($1, $2)", [offer.id, late])
        }
        let expired = try await fixture.offers(order).map(\.status)
        XCTAssertEqual(expired, ["expired"])
        let status = try await fixture.pool.query("SELECT status FROM platform.orders WHERE id = $1", [order])
            .scalar(String.self)
        XCTAssertEqual(status, OrderStatus.waiting)
    }

    func testAWorkerKilledWhileOfferingLosesNoOfferAndNeverDoublesOne() async throws {
        let fixture = try PlatformFixture()
        let place = DispatchPlace.random()
        let customer = try await fixture.customer()
        let cleaner = try await fixture.availableCleaner(near: place)
        let order = try await fixture.book(customer: customer.id, at: place, appointment: DispatchPlace.tomorrow(hour: 10))

        // A worker's round whose connection dies before commit (the process was killed).
        do {
            let doomed = try TestDatabase.connect()
            try doomed.execute("BEGIN")
            _ = try doomed.query("SELECT platform.dispatch_round($1, 1, 1, now())", [order])
        }  // its connection closes uncommitted

        // The job is still there; a worker runs it: the offer is made, once, and sent.
        let services = PlatformServices(provider: RecordingProvider(), log: .silent)
        try await fixture.running(services) {
            let sent = try await fixture.eventually {
                try await fixture.notifications(to: cleaner.phone).filter { $0.1 == "sent" }.count == 2
            }
            XCTAssertTrue(sent)
        }
        let offeredTo = try await fixture.offers(order).map(\.cleanerID)
        XCTAssertEqual(offeredTo, [cleaner.id])
        // The same round again (a job run twice) does nothing…
        let again = try await fixture.pool.query("SELECT step FROM platform.dispatch_round($1, 1, 1, now())", [order])
            .scalar(String.self)
        XCTAssertEqual(again, "none")
        // …and the database holds at most one live offer per cleaner and order.
        do {
            _ = try await fixture.pool.query(
                """
                INSERT INTO platform.dispatch_offers (order_id, cleaner_id, generation, round, rank, score, components, offered_at, expires_at)
                VALUES ($1, $2, 1, 9, 1, 0, '{}', now(), now() + interval '1 minute')
                """, [order, cleaner.id])
            XCTFail("a second live offer to the same cleaner was stored")
        } catch let error as PostgresError {
            XCTAssertTrue(error.isUniqueViolation, "\(error)")
        }
        let live = try await fixture.offers(order).count
        XCTAssertEqual(live, 1)
    }
}

// MARK: - Fixture

struct MissingValue: Error {}

/// A clock a test moves forward.
final class SteppedClock: Sendable {
    private let time: Mutex<Date>

    init(_ start: Date) { time = Mutex(start) }

    var platformClock: PlatformClock { PlatformClock { self.time.withLock { $0 } } }

    func advance(by seconds: TimeInterval) -> Date {
        time.withLock {
            $0 = $0.addingTimeInterval(seconds)
            return $0
        }
    }
}

extension Optional {
    /// The value, or a test failure (XCTUnwrap cannot take an `await`).
    func required() throws -> Wrapped {
        guard let self else { throw MissingValue() }
        return self
    }
}

/// A place of its own per test, so candidates of other tests never come near.
struct DispatchPlace {
    var latitude: Double
    var longitude: Double

    static func random() -> DispatchPlace {
        DispatchPlace(latitude: Double.random(in: 20...45), longitude: Double.random(in: 80...125))
    }

    /// `northKm` further north along the meridian (1° of latitude is 111.195 km on the 6371 km sphere).
    func moved(northKm: Double) -> DispatchPlace {
        DispatchPlace(latitude: latitude + northKm / 111.195, longitude: longitude)
    }

    /// Tomorrow at `hour` o'clock in Asia/Shanghai.
    static func tomorrow(hour: Int) -> Date {
        let calendar = BusinessCalendar.default
        return calendar.moment(hour: hour, onDayOf: calendar.adding(days: 1, to: Date()))
    }
}

struct DispatchOffer {
    var id: Int64
    var cleanerID: Int64
    var round: Int
    var status: String
    var expiresAt: Date
}

struct DispatchCandidate {
    var cleanerID: Int64
    var components: [String: Any]
}

extension PlatformFixture {
    /// An active cleaner certified for `skill`, working every day 06:00–22:00 (or
    /// `hours`) in `timeZone`, with a 10 km area around `place`.
    func availableCleaner(
        near place: DispatchPlace, skill: String = "daily_cleaning", certifiedUntil: Date? = nil,
        hours: (Int, Int) = (6, 22), timeZone: String = "Asia/Shanghai"
    ) async throws -> (id: Int64, phone: String) {
        let phone = Self.phone()
        return try await pool.withTransaction { connection in
            let id = try connection.query(
                """
                INSERT INTO platform.cleaners (phone, name, skills, latitude, longitude, time_zone)
                VALUES ($1, '王五', ARRAY[$2], $3, $4, $5) RETURNING id
                """, [phone, skill, place.latitude, place.longitude, timeZone]
            ).scalar(Int64.self)
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark) VALUES ($1, '上岗考试', 0) RETURNING id", [skill]
            ).scalar(Int64.self)
            try connection.execute(
                """
                WITH submission AS (
                    INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers) VALUES ($1, $2, '{}') RETURNING id)
                INSERT INTO platform.certifications (cleaner_id, skill, submission_id, granted_at, expires_at)
                SELECT $2, $3, id, now() - interval '30 days', COALESCE($4, now() + interval '1 year') FROM submission
                """, [exam, id, skill, certifiedUntil])
            try connection.execute(
                """
                INSERT INTO platform.cleaner_working_hours (cleaner_id, iso_weekday, starts_at, ends_at)
                SELECT $1, day, make_time($2::int4, 0, 0), make_time($3::int4, 0, 0) FROM generate_series(1, 7) AS day
                """, [id, Int64(hours.0), Int64(hours.1)])
            return (id, phone)
        }
    }

    func book(
        customer: Int64, at place: DispatchPlace, appointment: Date, serviceType: Int = 1, minutes: Int = 180
    ) async throws -> Int64 {
        try await pool.withTransaction { connection in
            try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customer, serviceTypeID: serviceType, address: "测试路1号", latitude: place.latitude,
                    longitude: place.longitude, appointmentStart: appointment, durationMinutes: minutes, amountFen: 15_000),
                now: Date(), on: connection)
        }
    }

    /// A past order of `cleaner` for `customer`, completed and reviewed.
    func reviewedOrder(customer: Int64, cleaner: Int64, at place: DispatchPlace, rating: Int) async throws {
        let at = Date().addingTimeInterval(-Double.random(in: 10...60) * 86_400)
        try await pool.withTransaction { connection in
            let id = try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customer, serviceTypeID: 1, address: "测试路1号", latitude: place.latitude,
                    longitude: place.longitude, appointmentStart: at, durationMinutes: 60, amountFen: 10_000),
                now: at.addingTimeInterval(-86_400), on: connection)
            try OrderBooking.assign(orderID: id, cleanerID: cleaner, now: at.addingTimeInterval(-80_000), on: connection)
            try OrderBooking.start(orderID: id, now: at, on: connection)
            try OrderBooking.complete(orderID: id, now: at.addingTimeInterval(3600), on: connection)
            try connection.execute(
                "INSERT INTO platform.reviews (order_id, rating) VALUES ($1, $2::int2)", [id, Int64(rating)])
        }
    }

    func candidates(_ order: Int64) async throws -> [DispatchCandidate] {
        try await pool.query("SELECT cleaner_id, components::text FROM platform.dispatch_candidates($1, now())", [order])
            .rows.map { row in
                let (id, json) = try row.decode((Int64, String).self)
                let components = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
                return DispatchCandidate(cleanerID: id, components: components)
            }
    }

    /// The next round of the order's current generation, run in the database only
    /// (no messages, no jobs), as a worker's round does before its effects.
    func round(_ order: Int64) async throws -> String {
        try await pool.query(
            """
            SELECT (platform.dispatch_round(order_id, generation, round + 1, now())).step
            FROM platform.order_dispatches WHERE order_id = $1
            """, [order]
        ).scalar(String.self)
    }

    func offers(_ order: Int64) async throws -> [DispatchOffer] {
        try await pool.query(
            "SELECT id, cleaner_id, round, status, expires_at FROM platform.dispatch_offers WHERE order_id = $1 ORDER BY id",
            [order]
        ).rows.map { row in
            let (id, cleaner, round, status, expires) = try row.decode((Int64, Int64, Int32, String, Date).self)
            return DispatchOffer(id: id, cleanerID: cleaner, round: Int(round), status: status, expiresAt: expires)
        }
    }

    /// Runs `first` in a transaction on one connection and, while it is still open,
    /// `second` on another connection (each on a thread of its own); waits until
    /// the second is blocked on a lock the first holds, then commits the first.
    /// Returns each side's error (nil: it committed).
    func race(
        first: @escaping @Sendable (PostgresConnection) throws -> Void,
        second: @escaping @Sendable (PostgresConnection) throws -> Void
    ) async throws -> (first: (any Error)?, second: (any Error)?) {
        let configuration = self.configuration
        let firstRan = DispatchSemaphore(value: 0)
        let commitFirst = DispatchSemaphore(value: 0)
        let secondPID = Mutex<Int32?>(nil)
        let one = Self.onThread { () -> (any Error)? in
            do {
                let connection = try PostgresConnection.connect(configuration)
                try connection.execute("BEGIN")
                var failure: (any Error)?
                do { try first(connection) } catch { failure = error }
                firstRan.signal()
                commitFirst.wait()
                try connection.execute(failure == nil ? "COMMIT" : "ROLLBACK")
                return failure
            } catch {
                firstRan.signal()
                return error
            }
        }
        let two = Self.onThread { () -> (any Error)? in
            do {
                let connection = try PostgresConnection.connect(configuration)
                let pid = try connection.query("SELECT pg_backend_pid()").scalar(Int32.self)
                firstRan.wait()
                secondPID.withLock { $0 = pid }
                try connection.execute("BEGIN")
                do {
                    try second(connection)
                    try connection.execute("COMMIT")
                    return nil
                } catch {
                    _ = try? connection.execute("ROLLBACK")
                    return error
                }
            } catch {
                return error
            }
        }
        // The second connection's last (state, wait event type, wait event, query), for the failure message.
        var seen: (String?, String?, String?, String?)?
        let blocked = try await eventually {
            guard let pid = secondPID.withLock({ $0 }) else { return false }
            seen = try await pool.query(
                "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity WHERE pid = $1", [pid]
            ).first?.decode((String?, String?, String?, String?).self)
            return seen?.1 == "Lock"
        }
        XCTAssertTrue(blocked, "the second connection waits for the first; it was: \(String(describing: seen))")
        commitFirst.signal()
        return (await one.value, await two.value)
    }

    /// Runs blocking database work on a thread of its own (never on the cooperative
    /// pool, which two blocked sides could exhaust).
    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> Task<T, Never> {
        Task {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: body()) }.start()
            }
        }
    }
}
