import Foundation
public import JobQueue
import PostgresClient

/// Ends suspensions: when the suspension period is over, or earlier when the
/// cleaner passed an exam graded after the suspension began (re-certification).
/// The cleaner becomes active again (back in dispatch) and is told. A suspension
/// is ended once: a second run finds nothing open to end.
public struct ReinstateCleaners: JobArguments {
    public static let kind = "quality.reinstate"

    public init() {}

    /// `$1` now.
    static let reinstate = """
        WITH due AS (
            SELECT s.id, s.cleaner_id,
                   CASE WHEN EXISTS (
                            SELECT 1 FROM platform.exam_submissions AS e
                            WHERE e.cleaner_id = s.cleaner_id AND e.status = 'graded' AND e.passed
                              AND e.graded_at > s.suspended_at AND e.graded_at <= $1)
                        THEN 'exam_passed'
                        WHEN s.suspended_until <= $1 THEN 'period_over' END AS reason
            FROM platform.cleaner_suspensions AS s
            WHERE s.reinstated_at IS NULL
        ), ended AS (
            UPDATE platform.cleaner_suspensions AS s SET reinstated_at = $1, reinstated_reason = d.reason
            FROM due AS d WHERE s.id = d.id AND d.reason IS NOT NULL AND s.reinstated_at IS NULL
            RETURNING s.id, s.cleaner_id
        ), reactivated AS (
            UPDATE platform.cleaners AS c SET status = '\(CleanerStatus.active)'
            FROM ended AS e WHERE c.id = e.cleaner_id AND c.status = '\(CleanerStatus.suspended)'
            RETURNING c.id, c.phone, c.time_zone
        ), notified AS (
            \(NotificationOutbox.insertSelect(
                """
                (SELECT 'quality_reinstated', '{}'::jsonb, r.phone, r.time_zone, 'reinstated:' || e.id
                 FROM ended AS e JOIN reactivated AS r ON r.id = e.cleaner_id)
                """, now: "$1"))
        )
        SELECT (SELECT count(*) FROM ended)::int8, n.id FROM (SELECT 1) AS one LEFT JOIN notified AS n ON true
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let ended = try await context.completeInTransaction { connection in
            let rows = try connection.query(Self.reinstate, [now]).rows
            try NotificationOutbox.enqueueDispatch(try rows.compactMap { try $0.decode(1, as: Int64?.self) }, on: connection)
            return Int(try rows.first?.decode(0, as: Int64.self) ?? 0)
        }
        services.log.info("suspensions ended", [("count", "\(ended)")])
    }
}
