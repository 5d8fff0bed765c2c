public import Foundation
import JobQueue
public import PostgresClient

/// Order dispatch from Swift. The decisions — who may take an order, in which
/// order, when a round ends, when to escalate or give up — and the jobs of the
/// next rounds are the SQL functions of migration 0013 (booking, assigning,
/// rescheduling and cancelling an order call them too); accept and decline are
/// thin callers of `platform.accept_offer` and `platform.decline_offer`. A round's
/// messages are sent from here, in the transaction of the round's job.
public enum OrderDispatch {
    public static let queue = "dispatch"

    /// Starts dispatch for waiting orders with an appointment between `now` and
    /// `end` that have none (orders loaded without booking: imported, or the demo's
    /// data set). Returns how many were started.
    public static func startWaiting(before end: Date, now: Date, on connection: PostgresConnection) throws -> Int {
        Int(try connection.query(
            """
            SELECT count(platform.dispatch_start(o.id, $1))::int8 FROM (
                SELECT o.id FROM platform.orders AS o
                WHERE o.status = '待接单' AND o.appointment_start > $1 AND o.appointment_start < $2
                  AND NOT EXISTS (SELECT 1 FROM platform.order_dispatches AS d WHERE d.order_id = o.id)
                ORDER BY o.appointment_start, o.id) AS o
            """, [now, end]
        ).scalar(Int64.self))
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

    /// A cleaner accepts an offer: the order is assigned to them by
    /// `platform.assign_order` (reminders, customer notification), other open offers
    /// are withdrawn. Returns the order's id. Throws `OfferRefusal` when the order was
    /// taken, the offer expired or is not theirs, or they are booked at that time;
    /// the caller's transaction is then aborted and must be rolled back.
    @discardableResult
    public static func accept(offerID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws -> Int64 {
        let orderID = try order(of: offerID, on: connection)
        do {
            return try connection.query("SELECT platform.accept_offer($1, $2, $3)", [offerID, cleanerID, now])
                .scalar(Int64.self)
        } catch {
            throw OfferRefusal.from(error, offerID: offerID, orderID: orderID) ?? error
        }
    }

    /// A cleaner declines an offer: when nobody else in the round still holds one,
    /// the next round is queued.
    public static func decline(offerID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws {
        let orderID = try order(of: offerID, on: connection)
        do {
            _ = try connection.query("SELECT platform.decline_offer($1, $2, $3)", [offerID, cleanerID, now])
        } catch {
            throw OfferRefusal.from(error, offerID: offerID, orderID: orderID) ?? error
        }
    }

    private static func order(of offerID: Int64, on connection: PostgresConnection) throws -> Int64? {
        try connection.query("SELECT order_id FROM platform.dispatch_offers WHERE id = $1", [offerID])
            .first?.decode(0, as: Int64.self)
    }

    /// Sends what a round asked for.
    static func perform(_ step: DispatchStep, orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        switch step.kind {
        case .none:
            return
        case .offered:
            for offerID in step.offerIDs { try sendOffer(offerID, now: now, on: connection) }
        case .escalated:
            try tellEscalation(orderID: orderID, generation: step.generation, now: now, on: connection)
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

    /// An offer's message is not sent once the offer expired: its validity ends with
    /// the offer's (migration 0021 lets the worker set it; this only ever shortens it).
    static let endValidityWithOffer = """
        UPDATE platform.notifications SET expires_at = least(expires_at, $2) WHERE id = $1
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
            let message = try NotificationOutbox.queue(
                template: template, parameters: parameters, recipient: phone, timeZone: zoneName,
                dedupeKey: "offer:\(offerID):\(template)", now: now, on: connection)
            if let message { _ = try connection.execute(endValidityWithOffer, [message, expiresAt]) }
        }
        try connection.enqueue(try ExpireDispatchOffer.request(offerID: offerID, at: expiresAt))
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
