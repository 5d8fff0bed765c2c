import Foundation
public import JobQueue
import PostgresClient

/// Scheduled when a complaint is filed, one per deadline and level, to run when
/// that level is to be told of a missed deadline. If the complaint was handled in
/// time (acknowledged, or resolved, by the deadline) it does nothing; otherwise it
/// records the escalation and texts the level's contact. The escalation row is
/// unique per complaint, deadline and level, and the message's dedupe key is the
/// row: a second run tells nobody again.
public struct EscalateComplaint: JobArguments {
    public static let kind = "complaint.escalate"
    public static let queue = "complaints"
    public var complaintID: Int64
    public var deadline: ComplaintDeadline
    public var level: EscalationLevel

    public init(complaintID: Int64, deadline: ComplaintDeadline, level: EscalationLevel) {
        self.complaintID = complaintID
        self.deadline = deadline
        self.level = level
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(complaintID, "complaintID")
    }

    /// Records the escalation when the deadline was missed: `$1` complaint, `$2`
    /// deadline, `$3` level, `$4` now. Returns the new row's id; none when the deadline
    /// was met or the escalation was recorded before.
    static let record = """
        WITH missed AS (
            SELECT k.id, d.due
            FROM platform.complaints AS k
            CROSS JOIN LATERAL (SELECT CASE $2 WHEN 'acknowledge' THEN k.acknowledge_due_at ELSE k.resolve_due_at END AS due,
                                       CASE $2 WHEN 'acknowledge' THEN k.acknowledged_at ELSE k.resolved_at END AS done) AS d
            WHERE k.id = $1 AND d.due IS NOT NULL AND d.due <= $4 AND (d.done IS NULL OR d.done > d.due)
        )
        INSERT INTO platform.complaint_escalations (complaint_id, deadline, level, due_at, escalated_at)
        SELECT id, $2, $3, due, $4 FROM missed
        ON CONFLICT (complaint_id, deadline, level) DO NOTHING
        RETURNING id
        """

    /// The message to the level's contact about escalation `$1`: `$2` deadline, `$3`
    /// level, `$4` now, `$5` the business time zone. A statement of its own, not a
    /// CTE reading the insert's rows: on a Citus cluster the data-modifying CTE chain
    /// wrote the escalation but no message (the contacts are a reference table there).
    static let notify = """
        \(NotificationOutbox.insertSelect(
            """
            (SELECT 'complaint_escalated',
                    jsonb_build_object('complaint', k.id::text, 'severity', k.severity,
                                       'deadline', CASE $2 WHEN 'acknowledge' THEN '受理' ELSE '处理' END,
                                       'due', to_char(e.due_at AT TIME ZONE $5, 'MM-DD HH24:MI')),
                    c.phone, $5, 'complaint_escalated:' || e.id
             FROM platform.complaint_escalations AS e
             JOIN platform.complaints AS k ON k.id = e.complaint_id
             JOIN platform.complaint_escalation_contacts AS c ON c.level = $3
             WHERE e.id = $1)
            """, now: "$4"))
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let (complaint, deadline, level) = (complaintID, self.deadline.rawValue, self.level.rawValue)
        let (now, zone) = (services.clock.now, services.timeZone.identifier)
        let escalated = try await context.completeInTransaction { connection in
            let recorded = try connection.query(Self.record, [complaint, deadline, level, now]).rows
                .map { try $0.decode(0, as: Int64.self) }
            for escalation in recorded {
                let messages = try connection.query(Self.notify, [escalation, deadline, level, now, zone]).rows
                try NotificationOutbox.enqueueDispatch(try messages.map { try $0.decode(0, as: Int64.self) }, on: connection)
            }
            return !recorded.isEmpty
        }
        if escalated {
            services.log.info(
                "complaint escalated",
                [("complaint_id", "\(complaint)"), ("deadline", deadline), ("level", level)])
        }
    }
}
