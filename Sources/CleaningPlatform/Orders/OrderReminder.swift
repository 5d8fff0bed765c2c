import Foundation
public import JobQueue
import PostgresClient

/// A reminder about an order, scheduled when it is booked or assigned (by
/// `platform.schedule_order_reminder` in sql/0012_sql_api.sql, which also names its
/// tags and unique key). It carries the appointment time it was made for: when it
/// runs, it does nothing if the order was cancelled, rescheduled (time differs) or
/// reassigned since.
public struct OrderReminder: JobArguments {
    public static let kind = "order.reminder"
    public static let queue = "reminders"

    public enum Moment: String, Codable, Sendable, CaseIterable {
        case customer24h = "customer_24h"
        case customer2h = "customer_2h"
        case cleanerAssigned = "cleaner_assigned"
        case cleaner1h = "cleaner_1h"

        /// How long before the appointment it is sent; nil = at once.
        var lead: TimeInterval? {
            switch self {
            case .customer24h: 24 * 3600
            case .customer2h: 2 * 3600
            case .cleanerAssigned: nil
            case .cleaner1h: 3600
            }
        }

        var template: String {
            switch self {
            case .customer24h: "order_reminder_24h"
            case .customer2h: "order_reminder_2h"
            case .cleanerAssigned: "cleaner_assigned"
            case .cleaner1h: "cleaner_reminder_1h"
            }
        }

        var forCleaner: Bool { self == .cleanerAssigned || self == .cleaner1h }
    }

    public var orderID: Int64
    public var moment: Moment
    /// The appointment start it was scheduled for (seconds since 1970).
    public var appointmentAt: Int64
    /// For cleaner reminders: the cleaner it was scheduled for.
    public var cleanerID: Int64?

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(orderID, "orderID")
        if appointmentAt < 1 { throw JobArgumentsError("appointmentAt must be seconds since 1970, got \(appointmentAt)") }
        if moment.forCleaner {
            guard let cleanerID else { throw JobArgumentsError("a \(moment.rawValue) reminder needs cleanerID") }
            try JobArgumentsError.requireID(cleanerID, "cleanerID")
        } else if cleanerID != nil {
            throw JobArgumentsError("a \(moment.rawValue) reminder is for the customer and takes no cleanerID")
        }
    }

    static let load = """
        SELECT o.status, o.appointment_start, o.cleaner_id, o.address, s.name, c.phone, c.time_zone,
               cl.phone, cl.name, cl.time_zone
        FROM platform.orders AS o
        JOIN platform.service_types AS s ON s.id = o.service_type_id
        JOIN platform.customers AS c ON c.id = o.customer_id
        LEFT JOIN platform.cleaners AS cl ON cl.id = o.cleaner_id
        WHERE o.id = $1
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let reminder = self
        let calendar = services.calendar
        let queued = try await context.completeInTransaction { connection -> Bool in
            guard let row = try connection.query(Self.load, [reminder.orderID]).first else { return false }
            let (status, appointment, cleanerID, address, service) = try row.decode(
                (String, Date, Int64?, String, String).self)
            // Stale: cancelled, started or finished, moved to another time (for the
            // reminders tied to the time), or another cleaner now.
            let current = (reminder.moment.lead == nil || Int64(appointment.timeIntervalSince1970) == reminder.appointmentAt)
                && (status == OrderStatus.waiting || status == OrderStatus.accepted)
                && (!reminder.moment.forCleaner || (cleanerID != nil && cleanerID == reminder.cleanerID))
            guard current else { return false }
            let recipient: String
            let timeZone: String
            // The day as the recipient reads it when the message goes out now (a
            // late reminder must not say "tomorrow" about today).
            var parameters = [
                "service": service, "time": calendar.timeOfDay(appointment), "day": calendar.dayWord(for: appointment, seenAt: now),
                "address": address, "order": "\(reminder.orderID)",
            ]
            if reminder.moment.forCleaner {
                recipient = try row.decode(7, as: String.self)
                timeZone = try row.decode(9, as: String.self)
            } else {
                recipient = try row.decode(5, as: String.self)
                timeZone = try row.decode(6, as: String.self)
                parameters["cleaner"] = try row.decode(8, as: String?.self) ?? "待分配"
            }
            return try NotificationOutbox.queue(
                template: reminder.moment.template, parameters: parameters, recipient: recipient, timeZone: timeZone,
                dedupeKey: "reminder:\(reminder.orderID):\(reminder.moment.rawValue):\(reminder.appointmentAt)",
                now: now, on: connection) != nil
        }
        if !queued {
            services.log.info(
                "reminder skipped: order changed since it was scheduled or already reminded",
                [("order_id", "\(orderID)"), ("moment", moment.rawValue)])
        }
    }
}
