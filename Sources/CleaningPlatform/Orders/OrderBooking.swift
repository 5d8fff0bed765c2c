public import Foundation
public import PostgresClient
import JobQueue

/// Order life-cycle operations the app calls. Each runs in the caller's
/// transaction and schedules or cancels the order's reminders in that same
/// transaction, so reminders exist exactly when the order change commits.
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

    /// Books an order, schedules the customer's 24 h and 2 h reminders and starts
    /// its dispatch (the first offering round runs at once).
    public static func book(_ order: NewOrder, now: Date, on connection: PostgresConnection) throws -> Int64 {
        let id = try connection.query(
            """
            INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
                duration_minutes, amount_fen, discount_fen, paid_fen, coupon_id, special_needs, created_at)
            VALUES ($1, $2::int2, $3, $4, $5, $6, $7::int4, $8, $9, $8 - $9, $10, $11, $12)
            RETURNING id
            """,
            [
                order.customerID, Int64(order.serviceTypeID), order.address, order.latitude, order.longitude,
                order.appointmentStart, Int64(order.durationMinutes), order.amountFen, order.discountFen, order.couponID,
                order.specialNeeds, now,
            ]
        ).scalar(Int64.self)
        try scheduleCustomerReminders(orderID: id, appointment: order.appointmentStart, now: now, on: connection)
        try OrderDispatch.start(orderID: id, now: now, on: connection)
        return id
    }

    /// A cleaner accepts (or is given) the order: the cleaner is told at once and
    /// reminded 1 h before; the customer is notified of the status change; open
    /// dispatch offers of the order are withdrawn. The database refuses it when the
    /// cleaner has another accepted order at an overlapping time.
    public static func assign(orderID: Int64, cleanerID: Int64, now: Date, on connection: PostgresConnection) throws {
        let appointment = try connection.query(
            """
            UPDATE platform.orders SET cleaner_id = $2, status = '已接单', accepted_at = $3
            WHERE id = $1 RETURNING appointment_start
            """, [orderID, cleanerID, now]
        ).scalar(Date.self)
        try connection.cancelWaitingJobs(tagged: OrderReminder.cleanerTag(orderID: orderID), reason: "reassigned")
        for moment in [OrderReminder.Moment.cleanerAssigned, .cleaner1h] {
            if let request = try OrderReminder.request(
                orderID: orderID, moment: moment, appointment: appointment, cleanerID: cleanerID, now: now)
            {
                try connection.enqueue(request)
            }
        }
        try OrderDispatch.withdraw(orderID: orderID, reason: "订单已分配", now: now, on: connection)
        try notifyStatus(orderID: orderID, status: "已接单", now: now, on: connection)
    }

    /// Moves the appointment: the old reminders are cancelled, new ones scheduled; a
    /// waiting order's dispatch starts over for the new time.
    public static func reschedule(orderID: Int64, to start: Date, now: Date, on connection: PostgresConnection) throws {
        let cleanerID = try connection.query(
            "UPDATE platform.orders SET appointment_start = $2 WHERE id = $1 AND status IN ('待接单', '已接单') RETURNING cleaner_id",
            [orderID, start]
        ).first.map { try $0.decode(0, as: Int64?.self) }
        guard let cleanerID else {
            throw PostgresError(kind: .client, message: "order \(orderID) cannot be rescheduled (missing, started or closed)")
        }
        try connection.cancelWaitingJobs(tagged: OrderReminder.timedTag(orderID: orderID), reason: "order rescheduled")
        try scheduleCustomerReminders(orderID: orderID, appointment: start, now: now, on: connection)
        if let cleanerID, let request = try OrderReminder.request(
            orderID: orderID, moment: .cleaner1h, appointment: start, cleanerID: cleanerID, now: now)
        {
            try connection.enqueue(request)
        }
        if cleanerID == nil { try OrderDispatch.restart(orderID: orderID, now: now, on: connection) }
    }

    /// Cancels the order, its reminders and its dispatch (open offers withdrawn).
    public static func cancel(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE platform.orders SET status = '已取消', cancelled_at = $2 WHERE id = $1", [orderID, now])
        try connection.cancelWaitingJobs(tagged: OrderReminder.tag(orderID: orderID), reason: "order cancelled")
        try OrderDispatch.withdraw(orderID: orderID, reason: "订单已取消", now: now, on: connection)
        try notifyStatus(orderID: orderID, status: "已取消", now: now, on: connection)
    }

    public static func start(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE platform.orders SET status = '服务中', started_at = $2 WHERE id = $1", [orderID, now])
        try connection.cancelWaitingJobs(tagged: OrderReminder.tag(orderID: orderID), reason: "order started")
        try notifyStatus(orderID: orderID, status: "服务中", now: now, on: connection)
    }

    /// Completes the order and records the customer's payment in the ledger
    /// (cash in, held in order clearing until the cleaner's settlement).
    public static func complete(orderID: Int64, now: Date, on connection: PostgresConnection) throws {
        let paid = try connection.query(
            "UPDATE platform.orders SET status = '已完成', completed_at = $2 WHERE id = $1 RETURNING paid_fen - refunded_fen",
            [orderID, now]
        ).scalar(Int64.self)
        let cash = try Ledger.account("platform:cash", type: "asset", on: connection)
        let clearing = try Ledger.account("platform:order_clearing", type: "liability", on: connection)
        try Ledger.post(
            kind: "collection", reference: "collection:\(orderID)", description: "payment for order \(orderID)",
            entries: [(cash, paid), (clearing, -paid)], on: connection)
        let customer = try connection.query("SELECT customer_id FROM platform.orders WHERE id = $1", [orderID])
            .scalar(Int64.self)
        try connection.enqueue(try JobRequest(UpgradeTier(customerID: customer), uniqueKey: "tier-upgrade:\(customer)"))
        try notifyStatus(orderID: orderID, status: "已完成", now: now, on: connection)
    }

    private static func scheduleCustomerReminders(
        orderID: Int64, appointment: Date, now: Date, on connection: PostgresConnection
    ) throws {
        for moment in [OrderReminder.Moment.customer24h, .customer2h] {
            if let request = try OrderReminder.request(
                orderID: orderID, moment: moment, appointment: appointment, cleanerID: nil, now: now)
            {
                try connection.enqueue(request)
            }
        }
    }

    /// Tells the customer about a status change (once per order and status).
    private static func notifyStatus(orderID: Int64, status: String, now: Date, on connection: PostgresConnection) throws {
        let row = try connection.query(
            """
            SELECT c.phone, c.time_zone FROM platform.orders AS o JOIN platform.customers AS c ON c.id = o.customer_id
            WHERE o.id = $1
            """, [orderID]
        ).first
        guard let (phone, zone) = try row?.decode((String, String).self) else { return }
        try NotificationOutbox.queue(
            template: "order_status", parameters: ["order": "\(orderID)", "status": status], recipient: phone,
            timeZone: zone, dedupeKey: "status:\(orderID):\(status)", now: now, on: connection)
    }
}
