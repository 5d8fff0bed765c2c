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

    /// Enqueues the dispatch jobs of messages written by `insertSelect` or the batch
    /// `queue`: one `DispatchNotificationBatch` job per `dispatchBatchSize` messages,
    /// in one statement.
    static func enqueueDispatch(_ notificationIDs: [Int64], on connection: PostgresConnection) throws {
        let requests = try stride(from: 0, to: notificationIDs.count, by: dispatchBatchSize).map { start in
            try JobRequest(
                DispatchNotificationBatch(
                    notificationIDs: Array(notificationIDs[start..<min(start + dispatchBatchSize, notificationIDs.count)])),
                queue: dispatchQueue, maxAttempts: dispatchAttempts)
        }
        if !requests.isEmpty { _ = try connection.enqueue(requests) }
    }

    /// Messages per batch dispatch job: enough that the queue's own cost per job is
    /// spread thin, few enough that a batch is sent in well under its timeout.
    public static let dispatchBatchSize = 100
    static let dispatchAttempts = 8
    static let dispatchKeyPrefix = "dispatch:"

    /// The one-message dispatch job of `notificationID` (what `queue_notification`
    /// enqueues in SQL), starting at `runAt` (nil: at once).
    static func dispatchRequest(for notificationID: Int64, runAt: Date? = nil) throws -> JobRequest {
        try JobRequest(
            DispatchNotification(notificationID: notificationID), queue: dispatchQueue, runAt: runAt,
            maxAttempts: dispatchAttempts, uniqueKey: dispatchKeyPrefix + "\(notificationID)")
    }

    /// One message to queue with the batch `queue`.
    public struct Message: Sendable, Equatable {
        public var template: String
        public var parameters: [String: String]
        public var recipient: String
        public var timeZone: String
        /// Queueing the same key again (a handler that ran twice) queues nothing.
        public var dedupeKey: String

        public init(
            template: String, parameters: [String: String], recipient: String, timeZone: String = "Asia/Shanghai",
            dedupeKey: String
        ) {
            self.template = template
            self.parameters = parameters
            self.recipient = recipient
            self.timeZone = timeZone
            self.dedupeKey = dedupeKey
        }
    }

    /// A batch named a template that does not exist: nothing of it was queued.
    public struct UnknownTemplate: Error, CustomStringConvertible, Equatable {
        public var codes: [String]
        public var description: String {
            "unknown notification template \(codes.joined(separator: ", ")): nothing of the batch was queued; "
                + "use a code from platform.notification_templates"
        }
    }

    /// `$1`–`$5` the messages' fields, `$6` the time their validity starts. Writes
    /// nothing when a template is unknown. A dedupe key used before, or twice in
    /// the batch, queues one message only. One row per input, in order: whether its
    /// template exists, and the new id (NULL: not queued).
    static let insertBatch = """
        WITH input AS (
            SELECT m.*, row_number() OVER (PARTITION BY m.dedupe_key ORDER BY m.ordinal) = 1 AS first_of_key,
                   EXISTS (SELECT 1 FROM platform.notification_templates AS t WHERE t.code = m.template) AS known
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
                 AS m(template, params, recipient, time_zone, dedupe_key, ordinal)
        ), inserted AS (
            INSERT INTO platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
            SELECT t.code, m.params::jsonb, t.channel, m.recipient, m.time_zone, m.dedupe_key,
                   $6::timestamptz + t.validity_minutes * interval '1 minute'
            FROM input AS m JOIN platform.notification_templates AS t ON t.code = m.template
            WHERE m.first_of_key AND NOT EXISTS (SELECT 1 FROM input WHERE NOT known)
            ORDER BY m.ordinal
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id, dedupe_key
        )
        SELECT m.known, i.id
        FROM input AS m LEFT JOIN inserted AS i ON i.dedupe_key = m.dedupe_key AND m.first_of_key
        ORDER BY m.ordinal
        """

    /// Queues many messages in the caller's transaction with two statements, however
    /// many: every outbox row, then their dispatch jobs (`DispatchNotificationBatch`,
    /// `dispatchBatchSize` messages each). The bulk form of `queue(template:…)`, for
    /// producers that have many messages at hand (campaigns, reminders, imports).
    /// Returns each message's new id, or nil when its dedupe key was used before
    /// (or earlier in the batch). Throws `UnknownTemplate`, queueing nothing, when
    /// a template does not exist.
    @discardableResult
    public static func queue(_ messages: [Message], now: Date, on connection: PostgresConnection) throws -> [Int64?] {
        guard !messages.isEmpty else { return [] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let parameters = try messages.map { String(decoding: try encoder.encode($0.parameters), as: UTF8.self) }
        let rows = try connection.query(
            insertBatch,
            [
                messages.map(\.template), parameters, messages.map(\.recipient), messages.map(\.timeZone),
                messages.map(\.dedupeKey), now,
            ])
        var ids: [Int64?] = []
        ids.reserveCapacity(messages.count)
        var unknown: [String] = []
        for (message, row) in zip(messages, rows.rows) {
            let (known, id) = try row.decode((Bool, Int64?).self)
            if !known && !unknown.contains(message.template) { unknown.append(message.template) }
            ids.append(id)
        }
        if !unknown.isEmpty { throw UnknownTemplate(codes: unknown) }
        try enqueueDispatch(ids.compactMap { $0 }, on: connection)
        return ids
    }

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
