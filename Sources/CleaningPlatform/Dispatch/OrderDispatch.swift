public import Foundation
import JobQueue
public import PostgresClient

/// Order dispatch as the app and the order life cycle call it. The decisions —
/// who may take an order, in which order, when a round ends, when to escalate or
/// give up — are the SQL functions of migration 0013; this runs the effects each
/// step asks for (offers and messages through the outbox, the next jobs), always
/// in the caller's transaction, so a step and its effects commit together.
public enum OrderDispatch {
    public static let queue = "dispatch"

    /// A booked order: its first round runs at once.
    static func start(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        let step = try DispatchStep.query("platform.dispatch_start($1, $2)", [orderID, now], on: connection)
        try perform(step, orderID: orderID, now: now, on: connection)
    }

    /// Starts dispatch for waiting orders with an appointment between `now` and
    /// `end` that have none (orders loaded without booking: imported, or the demo's
    /// data set). Returns how many were started.
    public static func startWaiting(before end: Date, now: Date, on connection: PostgresConnection) throws -> Int {
        let orders = try connection.query(
            """
            SELECT o.id FROM platform.orders AS o
            WHERE o.status = '待接单' AND o.appointment_start > $1 AND o.appointment_start < $2
              AND NOT EXISTS (SELECT 1 FROM platform.order_dispatches AS d WHERE d.order_id = o.id)
            ORDER BY o.appointment_start, o.id
            """, [now, end]
        ).rows.map { try $0.decode(0, as: Int64.self) }
        for order in orders { try start(orderID: order, now: now, on: connection) }
        return orders.count
    }

    /// An offer still waiting for its cleaner's answer.
    public struct OpenOffer: Sendable {
        public var offerID: Int64
        public var orderID: Int64
        public var cleanerID: Int64
    }

    /// The open offers, oldest first, and whether any dispatch is still offering
    /// (an escalated one waits for its next round and does not count).
    public static func openOffers(on connection: PostgresConnection) throws -> (offers: [OpenOffer], offering: Bool) {
        let offers = try connection.query(
            "SELECT id, order_id, cleaner_id FROM platform.dispatch_offers WHERE status = 'open' ORDER BY id"
        ).rows.map { row in
            let (offer, order, cleaner) = try row.decode((Int64, Int64, Int64).self)
            return OpenOffer(offerID: offer, orderID: order, cleanerID: cleaner)
        }
        let offering = try connection.query(
            "SELECT EXISTS (SELECT 1 FROM platform.order_dispatches WHERE status = 'offering')"
        ).scalar(Bool.self)
        return (offers, offering)
    }

    /// A waiting order moved: its open offers are withdrawn and dispatch starts over
    /// for the new time.
    static func restart(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        try withdraw(orderID: orderID, reason: "订单时间已变更", now: now, on: connection)
        try start(orderID: orderID, now: now, on: connection)
    }

    /// Stops an order's dispatch (cancelled, assigned by hand) and tells the
    /// cleaners whose offers were still open.
    static func withdraw(orderID: Int64, reason: String, now: Date, on connection: PostgresConnection) throws {
        let withdrawn = try connection.query(
            "SELECT offer_id, cleaner_id FROM platform.dispatch_withdraw($1, $2, $3)", [orderID, reason, now]
        ).rows.map { try $0.decode((Int64, Int64).self) }
        try tellWithdrawn(withdrawn, orderID: orderID, reason: reason, now: now, on: connection)
    }

    /// A cleaner accepts an offer: the order is assigned to them with the order life
    /// cycle's own assignment (reminders, customer notification), other open offers
    /// are withdrawn. Returns the order's id. Throws `OfferRefusal` when the order was
    /// taken, the offer expired or is not theirs, or they are booked at that time;
    /// the caller's transaction is then aborted and must be rolled back.
    @discardableResult
    public static func accept(offerID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws -> Int64 {
        let orderID = try connection.query("SELECT order_id FROM platform.dispatch_offers WHERE id = $1", [offerID])
            .first?.decode(0, as: Int64.self)
        do {
            let rows = try connection.query(
                "SELECT order_id, withdrawn_offer_id, withdrawn_cleaner_id FROM platform.accept_offer($1, $2, $3)",
                [offerID, cleanerID, now]
            ).rows
            let accepted = try rows[0].decode(0, as: Int64.self)
            let withdrawn = try rows.compactMap { row -> (Int64, Int64)? in
                guard let offer = try row.decode(1, as: Int64?.self), let cleaner = try row.decode(2, as: Int64?.self)
                else { return nil }
                return (offer, cleaner)
            }
            try OrderBooking.assign(orderID: accepted, cleanerID: cleanerID, now: now, on: connection)
            try tellWithdrawn(withdrawn, orderID: accepted, reason: "已被其他保洁师接单", now: now, on: connection)
            return accepted
        } catch {
            throw OfferRefusal.from(error, offerID: offerID, orderID: orderID) ?? error
        }
    }

    /// A cleaner declines an offer: when nobody else in the round still holds one,
    /// the next round is queued.
    public static func decline(offerID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws {
        let orderID = try connection.query("SELECT order_id FROM platform.dispatch_offers WHERE id = $1", [offerID])
            .first?.decode(0, as: Int64.self)
        let step: DispatchStep
        do {
            step = try DispatchStep.query("platform.decline_offer($1, $2, $3)", [offerID, cleanerID, now], on: connection)
        } catch {
            throw OfferRefusal.from(error, offerID: offerID, orderID: orderID) ?? error
        }
        if let orderID { try perform(step, orderID: orderID, now: now, on: connection) }
    }

    /// Runs the effects of a step.
    static func perform(_ step: DispatchStep, orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        switch step.kind {
        case .none:
            return
        case .next:
            try connection.enqueue(
                try DispatchOrder.request(orderID: orderID, generation: step.generation, round: step.round, runAt: nil))
        case .offered:
            for offerID in step.offerIDs { try sendOffer(offerID, now: now, on: connection) }
        case .escalated:
            try tellEscalation(orderID: orderID, generation: step.generation, now: now, on: connection)
            try connection.enqueue(
                try DispatchOrder.request(
                    orderID: orderID, generation: step.generation, round: step.round, runAt: step.runAt))
        case .tooClose:
            try OrderBooking.cancel(orderID: orderID, now: now, on: connection)
            if let (phone, zone) = try customer(of: orderID, on: connection) {
                try NotificationOutbox.queue(
                    template: "dispatch_cancelled", parameters: ["order": "\(orderID)"], recipient: phone, timeZone: zone,
                    dedupeKey: "dispatch-cancelled:\(orderID)", now: now, on: connection)
            }
        }
    }

    static let offerDetails = """
        SELECT f.order_id, f.expires_at, cl.phone, cl.time_zone, s.name, o.address, o.appointment_start
        FROM platform.dispatch_offers AS f
        JOIN platform.cleaners AS cl ON cl.id = f.cleaner_id
        JOIN platform.orders AS o ON o.id = f.order_id
        JOIN platform.service_types AS s ON s.id = o.service_type_id
        WHERE f.id = $1
        """

    /// Push and SMS to the offered cleaner, and the offer's expiry job.
    private static func sendOffer(_ offerID: Int64, now: Date, on connection: PostgresConnection) throws {
        guard let row = try connection.query(offerDetails, [offerID]).first else { return }
        let (orderID, expiresAt, phone, zoneName, service, address, appointment) = try row.decode(
            (Int64, Date, String, String, String, String, Date).self)
        let zone = TimeZone(identifier: zoneName) ?? BusinessCalendar.default.timeZone
        let parameters = [
            "order": "\(orderID)", "service": service, "address": address,
            "time": ZonedTimeText.format(appointment, in: zone),
            "seconds": "\(max(0, Int(expiresAt.timeIntervalSince(now).rounded())))",
        ]
        for template in ["dispatch_offer_sms", "dispatch_offer_push"] {
            try NotificationOutbox.queue(
                template: template, parameters: parameters, recipient: phone, timeZone: zoneName,
                dedupeKey: "offer:\(offerID):\(template)", now: now, on: connection)
        }
        try connection.enqueue(try ExpireDispatchOffer.request(offerID: offerID, at: expiresAt))
    }

    private static func tellWithdrawn(
        _ offers: [(offerID: Int64, cleanerID: Int64)], orderID: Int64, reason: String, now: Date,
        on connection: PostgresConnection
    ) throws {
        for (offerID, cleanerID) in offers {
            guard let row = try connection.query(
                "SELECT phone, time_zone FROM platform.cleaners WHERE id = $1", [cleanerID]
            ).first else { continue }
            let (phone, zone) = try row.decode((String, String).self)
            try NotificationOutbox.queue(
                template: "dispatch_offer_withdrawn", parameters: ["order": "\(orderID)", "reason": reason],
                recipient: phone, timeZone: zone, dedupeKey: "offer-withdrawn:\(offerID)", now: now, on: connection)
        }
    }

    /// Operations and the customer are told once per dispatch generation.
    private static func tellEscalation(orderID: Int64, generation: Int, now: Date, on connection: PostgresConnection) throws {
        // The appointment as the customer booked it: in the customer's zone, named.
        let row = try connection.query(
            """
            SELECT cfg.operations_recipient, s.name, o.appointment_start, c.time_zone
            FROM platform.orders AS o JOIN platform.service_types AS s ON s.id = o.service_type_id
            JOIN platform.customers AS c ON c.id = o.customer_id
            CROSS JOIN platform.dispatch_settings AS cfg WHERE o.id = $1
            """, [orderID]
        ).first
        if let (operations, service, appointment, zone) = try row?.decode((String, String, Date, String).self) {
            try NotificationOutbox.queue(
                template: "dispatch_escalated",
                parameters: [
                    "order": "\(orderID)", "service": service,
                    "time": ZonedTimeText.format(appointment, in: TimeZone(identifier: zone) ?? BusinessCalendar.default.timeZone),
                ],
                recipient: operations, timeZone: zone, dedupeKey: "dispatch-escalated:\(orderID):\(generation)", now: now,
                on: connection)
        }
        if let (phone, zone) = try customer(of: orderID, on: connection) {
            try NotificationOutbox.queue(
                template: "dispatch_no_cleaner_yet", parameters: ["order": "\(orderID)"], recipient: phone, timeZone: zone,
                dedupeKey: "dispatch-no-cleaner:\(orderID):\(generation)", now: now, on: connection)
        }
    }

    private static func customer(of orderID: Int64, on connection: PostgresConnection) throws -> (String, String)? {
        try connection.query(
            "SELECT c.phone, c.time_zone FROM platform.orders AS o JOIN platform.customers AS c ON c.id = o.customer_id WHERE o.id = $1",
            [orderID]
        ).first?.decode((String, String).self)
    }
}
