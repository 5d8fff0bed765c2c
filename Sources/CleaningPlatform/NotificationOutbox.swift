public import Foundation
import JobQueue
public import PostgresClient

/// Queues messages: an outbox row plus its dispatch job, in the caller's
/// transaction. The dedupe key makes queueing the same message twice (a handler
/// that ran twice) a no-op.
public enum NotificationOutbox {
    public static let dispatchQueue = "notifications"

    static let insert = """
        INSERT INTO platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
        SELECT t.code, $2::jsonb, t.channel, $3, $4, $5, $6::timestamptz + t.validity_minutes * interval '1 minute'
        FROM platform.notification_templates AS t WHERE t.code = $1
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """

    public struct Message: Sendable {
        public var template: String
        public var parameters: [String: String]
        public var recipient: String
        public var timeZone: String
        public var dedupeKey: String
    }

    static let insertMany = """
        INSERT INTO platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
        SELECT t.code, m.params::jsonb, t.channel, m.recipient, m.time_zone, m.dedupe_key,
               $6::timestamptz + t.validity_minutes * interval '1 minute'
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS m(template, params, recipient, time_zone, dedupe_key)
        JOIN platform.notification_templates AS t ON t.code = m.template
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """

    /// Queues many messages with two statements per 10 000 (set-based jobs that
    /// notify thousands of people at once).
    public static func queueMany(_ messages: [Message], now: Date, on connection: PostgresConnection) throws {
        let encoder = JSONEncoder()
        var start = 0
        while start < messages.count {
            let chunk = messages[start..<min(start + 10_000, messages.count)]
            start += chunk.count
            let ids = try connection.query(
                insertMany,
                [
                    chunk.map(\.template), try chunk.map { String(decoding: try encoder.encode($0.parameters), as: UTF8.self) },
                    chunk.map(\.recipient), chunk.map(\.timeZone), chunk.map(\.dedupeKey), now,
                ]
            ).rows.map { try $0.decode(0, as: Int64.self) }
            _ = try connection.enqueue(
                try ids.map { id in
                    try JobRequest(
                        DispatchNotification(notificationID: id), queue: dispatchQueue, maxAttempts: 8,
                        uniqueKey: "dispatch:\(id)")
                })
        }
    }

    /// Returns the new notification's id, or nil when the dedupe key was used before.
    @discardableResult
    public static func queue(
        template: String, parameters: [String: String], recipient: String, timeZone: String = "Asia/Shanghai",
        dedupeKey: String, now: Date, on connection: PostgresConnection
    ) throws -> Int64? {
        let json = String(decoding: try JSONEncoder().encode(parameters), as: UTF8.self)
        guard
            let id = try connection.query(insert, [template, json, recipient, timeZone, dedupeKey, now]).first?
                .decode(0, as: Int64.self)
        else {
            let known = try connection.query(
                "SELECT 1 FROM platform.notification_templates WHERE code = $1", [template]
            ).rowCount
            if known == 0 { throw PostgresError(kind: .client, message: "unknown notification template \(template)") }
            return nil
        }
        try connection.enqueue(
            try JobRequest(
                DispatchNotification(notificationID: id), queue: dispatchQueue, maxAttempts: 8,
                uniqueKey: "dispatch:\(id)"))
        return id
    }
}
