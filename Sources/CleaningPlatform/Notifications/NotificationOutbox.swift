public import Foundation
import JobQueue
public import PostgresClient

/// Queues messages: an outbox row plus its dispatch job, in the caller's
/// transaction. The dedupe key makes queueing the same message twice (a handler
/// that ran twice) a no-op.
public enum NotificationOutbox {
    public static let dispatchQueue = "notifications"

    /// An `INSERT … SELECT` into the outbox for set-based jobs, usable as a
    /// data-modifying CTE: one message per row of `rows` (a table expression
    /// yielding template, params, recipient, time zone and dedupe key), valid from
    /// `now` (an SQL expression, normally a parameter). Rows whose dedupe key was
    /// used before, or whose template does not exist, are skipped. Returns the new
    /// ids; pass them to `enqueueDispatch` in the same transaction.
    static func insertSelect(_ rows: String, now: String) -> String {
        """
        INSERT INTO platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
        SELECT t.code, m.params::jsonb, t.channel, m.recipient, m.time_zone, m.dedupe_key,
               \(now)::timestamptz + t.validity_minutes * interval '1 minute'
        FROM \(rows) AS m(template, params, recipient, time_zone, dedupe_key)
        JOIN platform.notification_templates AS t ON t.code = m.template
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """
    }

    /// Enqueues the dispatch jobs of messages written by `insertSelect`, all in one
    /// statement that builds each job's arguments itself.
    static func enqueueDispatch(_ notificationIDs: [Int64], on connection: PostgresConnection) throws {
        try connection.enqueue(
            JobRequest(kind: DispatchNotification.kind, queue: dispatchQueue, maxAttempts: dispatchAttempts),
            forEachID: notificationIDs, argument: DispatchNotification.idArgument, uniqueKeyPrefix: dispatchKeyPrefix)
    }

    static let dispatchAttempts = 8
    static let dispatchKeyPrefix = "dispatch:"

    /// Returns the new notification's id, or nil when the dedupe key was used before.
    /// Runs `platform.queue_notification` (sql/0012_sql_api.sql), which the SQL
    /// API's actions use too.
    @discardableResult
    public static func queue(
        template: String, parameters: [String: String], recipient: String, timeZone: String = "Asia/Shanghai",
        dedupeKey: String, now: Date, on connection: PostgresConnection
    ) throws -> Int64? {
        let json = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        return try connection.query(
            "SELECT platform.queue_notification($1, $2::jsonb, $3, $4, $5, $6)",
            [template, json, recipient, timeZone, dedupeKey, now]
        ).first!.decode(0, as: Int64?.self)
    }
}
