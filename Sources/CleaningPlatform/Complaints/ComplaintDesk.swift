public import Foundation
import JobQueue
public import PostgresClient

/// The back office's complaint actions. Filing sets the deadlines from the
/// severity's rules in business hours of the business time zone and schedules
/// the escalation jobs, in the filing's transaction (`platform.complaint_filed`,
/// which the app's `platform.file_complaint` calls too); each later action moves the
/// complaint one step of its state machine and stamps when. Upholding counts
/// against the cleaner in the next payout run (penalty) and in quality scores.
public enum ComplaintDesk {
    /// A refused action, in words an operator can act on.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// Files a complaint about an order; returns its id and the escalation jobs'
    /// schedule (deadline, level, when).
    public static func file(
        orderID: Int64, reason: String, severity: ComplaintSeverity, now: Date, on connection: PostgresConnection
    ) throws -> (id: Int64, escalations: [(ComplaintDeadline, EscalationLevel, Date)]) {
        guard !UnicodeText.isBlank(reason) else {
            throw Refusal(description: "the reason is blank; say what went wrong")
        }
        return try connection.withTransaction { connection in
            guard let order = try connection.query(
                "SELECT cleaner_id FROM platform.orders WHERE id = $1", [orderID]
            ).first else {
                throw Refusal(description: "order \(orderID) does not exist; check the id")
            }
            guard try order.decode(0, as: Int64?.self) != nil else {
                throw Refusal(description: "order \(orderID) has no cleaner; a complaint is about a service given")
            }
            let id = try connection.query(
                "INSERT INTO platform.complaints (order_id, reason, severity, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                [orderID, reason, severity.rawValue, now]
            ).scalar(Int64.self)
            return (id, try scheduleEscalations(complaintID: id, on: connection))
        }
    }

    /// Sets the deadlines of a complaint just filed and enqueues its escalation jobs
    /// (`platform.complaint_filed`), in the caller's transaction (also for
    /// complaints loaded in bulk, such as the demo data's); returns the schedule.
    public static func scheduleEscalations(
        complaintID: Int64, on connection: PostgresConnection
    ) throws -> [(ComplaintDeadline, EscalationLevel, Date)] {
        try connection.query(
            "SELECT deadline, level, escalate_at FROM platform.complaint_filed($1)", [complaintID]
        ).rows.map { row in
            let (deadline, level, at) = try row.decode((String, String, Date).self)
            return (ComplaintDeadline(rawValue: deadline)!, EscalationLevel(rawValue: level)!, at)
        }
    }

    /// Moves complaint `id` to `status` at `now`; an upheld or rejected complaint
    /// records its outcome. Refused, with the reason, when the complaint does not
    /// exist or is not at the step before.
    public static func move(
        _ id: Int64, to status: ComplaintStatus, now: Date, on connection: PostgresConnection
    ) throws {
        let stamp =
            switch status {
            case .filed: throw Refusal(description: "a complaint is filed once, with `complaints file`")
            case .acknowledged: "acknowledged_at = $3"
            case .investigating: "investigating_at = $3"
            case .upheld, .rejected: "outcome = $2, resolved_at = $3"
            case .closed: "closed_at = $3"
            }
        try connection.withTransaction { connection in
            guard let row = try connection.query(
                "SELECT status FROM platform.complaints WHERE id = $1 FOR UPDATE", [id]
            ).first else {
                throw Refusal(description: "complaint \(id) does not exist; see `jobsctl complaints list`")
            }
            let current = try row.decode(0, as: String.self)
            guard let from = ComplaintStatus(rawValue: current), status.previous.contains(from) else {
                let needed = status.previous.map(\.rawValue).joined(separator: " or ")
                throw Refusal(description: "complaint \(id) is \(current); it can become \(status.rawValue) only when \(needed)")
            }
            try connection.execute(
                "UPDATE platform.complaints SET status = $2, \(stamp) WHERE id = $1", [id, status.rawValue, now])
        }
    }
}
