public import Foundation
public import PostgresClient

/// Order life-cycle operations the app calls. Each is a thin caller of its
/// `platform.*` SQL function (sql/0012_sql_api.sql), the one implementation that
/// front ends in other languages call too: it checks the transition (an illegal
/// one is an error naming the order and its status, SQLSTATE 55000, and writes
/// nothing), writes the order and schedules or cancels its reminders and status
/// notifications in the caller's transaction, so they exist exactly when the
/// order change commits. `now` is the moment of the action (the functions' `as_of`).
public enum OrderBooking {
    public struct NewOrder: Sendable {
        public var customerID: Int64
        public var serviceTypeID: Int
        public var address: String
        public var latitude: Double
        public var longitude: Double
        public var appointmentStart: Date
        public var durationMinutes: Int
        public var amountFen: Int64
        public var discountFen: Int64
        public var couponID: Int64?
        public var specialNeeds: String?

        public init(
            customerID: Int64, serviceTypeID: Int, address: String, latitude: Double, longitude: Double,
            appointmentStart: Date, durationMinutes: Int, amountFen: Int64, discountFen: Int64 = 0,
            couponID: Int64? = nil, specialNeeds: String? = nil
        ) {
            self.customerID = customerID
            self.serviceTypeID = serviceTypeID
            self.address = address
            self.latitude = latitude
            self.longitude = longitude
            self.appointmentStart = appointmentStart
            self.durationMinutes = durationMinutes
            self.amountFen = amountFen
            self.discountFen = discountFen
            self.couponID = couponID
            self.specialNeeds = specialNeeds
        }
    }

    /// Books an order and schedules the customer's 24 h and 2 h reminders.
    public static func book(_ order: NewOrder, now: Date, on connection: PostgresConnection) throws -> Int64 {
        try connection.query(
            """
            SELECT platform.book_order(customer_id => $1, service_type_id => $2::int4, address => $3, latitude => $4,
                longitude => $5, appointment_start => $6, duration_minutes => $7::int4, amount_fen => $8,
                discount_fen => $9, coupon_id => $10, special_needs => $11, as_of => $12)
            """,
            [
                order.customerID, Int64(order.serviceTypeID), order.address, order.latitude, order.longitude,
                order.appointmentStart, Int64(order.durationMinutes), order.amountFen, order.discountFen, order.couponID,
                order.specialNeeds, now,
            ]
        ).scalar(Int64.self)
    }

    /// A cleaner accepts (or is given) the order: the cleaner is told at once and
    /// reminded 1 h before; the customer is notified of the status change.
    public static func assign(orderID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT platform.assign_order($1, $2, $3)", [orderID, cleanerID, now])
    }

    /// Moves the appointment: the old reminders are cancelled, new ones scheduled.
    public static func reschedule(orderID: Int64, to start: Date, now: Date, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT platform.reschedule_order($1, $2, $3)", [orderID, start, now])
    }

    public static func cancel(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT platform.cancel_order($1, $2)", [orderID, now])
    }

    /// The assigned cleaner backs out of an accepted order, saying why: recorded
    /// (it counts against their quality score), the order waits and is dispatched again.
    public static func cancelByCleaner(
        orderID: Int64, cleanerID: Int64, reason: String, now: Date, on connection: PostgresConnection
    ) throws {
        _ = try connection.query("SELECT platform.cleaner_cancel_order($1, $2, $3, $4)", [orderID, cleanerID, reason, now])
    }

    public static func start(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT platform.start_order($1, $2)", [orderID, now])
    }

    /// Completes the order and records the customer's payment in the ledger
    /// (cash in, held in order clearing until the cleaner's settlement).
    public static func complete(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        _ = try connection.query("SELECT platform.complete_order($1, $2)", [orderID, now])
    }
}
