import Foundation
import PostgresClient

/// The states of an outbox message (the `status` column's check constraint).
enum NotificationStatus: String, Sendable {
    case pending, sent, failed, suppressed
}

/// An outbox message as the dispatch handlers read it, with its template, and
/// what the rules say before any flow control: render it, drop it past its
/// validity, hold marketing back in quiet hours. One reading for the one-message
/// and the batch handler alike.
struct PendingNotification: Sendable {
    var id: Int64
    var status: String
    var recipient: String
    var timeZoneName: String
    var expiresAt: Date
    var template: NotificationTemplate
    var parametersJSON: String

    /// The columns `init(row:)` reads, in its order.
    static let select = """
        SELECT n.id, n.status, n.params::text, n.recipient, n.time_zone, n.expires_at,
               t.code, t.channel, t.category, t.body, t.validity_minutes
        FROM platform.notifications AS n JOIN platform.notification_templates AS t ON t.code = n.template_code
        """

    init(row: PostgresRow) throws {
        (id, status, parametersJSON, recipient, timeZoneName, expiresAt) = try row.decode(
            (Int64, String, String, String, String, Date).self)
        template = NotificationTemplate(
            code: try row.decode(6, as: String.self),
            channel: OutgoingMessage.Channel(rawValue: try row.decode(7, as: String.self)) ?? .sms,
            category: NotificationTemplate.Category(rawValue: try row.decode(8, as: String.self)) ?? .notice,
            body: try row.decode(9, as: String.self), validityMinutes: Int(try row.decode(10, as: Int32.self)))
    }

    /// What to do with the message before its flow-control permit.
    enum Decision: Sendable {
        /// Rendered; take a permit and send it.
        case send(body: String)
        /// Closed for good with this status and reason (and this line logged, if any).
        case close(NotificationStatus, reason: String, logLine: String?)
        /// Marketing in quiet hours: try again after this moment.
        case holdUntil(Date)
    }

    func decide(now: Date, services: PlatformServices) -> Decision {
        let parameters = (try? JSONDecoder().decode([String: String].self, from: Data(parametersJSON.utf8))) ?? [:]
        let body: String
        do {
            body = try template.render(parameters)
        } catch {
            return .close(.failed, reason: "\(error)", logLine: nil)
        }
        if now >= expiresAt {
            return .close(
                .suppressed, reason: "expired: not sent within its validity (\(template.validityMinutes) min)",
                logLine: "notification suppressed: past its validity")
        }
        if template.category == .marketing,
            let opens = services.flowControl.quietUntil(now, calendar: BusinessCalendar(timeZone: timeZone(services)))
        {
            if opens >= expiresAt {
                return .close(
                    .suppressed,
                    reason: "quiet hours: marketing may not be sent before "
                        + "\(ZonedTimeText.format(opens, in: timeZone(services))), past its validity", logLine: nil)
            }
            return .holdUntil(opens)
        }
        return .send(body: body)
    }

    /// The recipient's zone (the business zone if the stored name is unknown).
    func timeZone(_ services: PlatformServices) -> TimeZone {
        TimeZone(identifier: timeZoneName) ?? services.timeZone
    }

    /// The message for the gateway; its idempotency key is the same on every try.
    func outgoing(body: String) -> OutgoingMessage {
        OutgoingMessage(
            notificationID: id, channel: template.channel, recipient: recipient, templateCode: template.code, body: body,
            idempotencyKey: "notification-\(id)")
    }

    /// Masked fields for log lines about this message.
    var logFields: [(String, String)] {
        [("notification_id", "\(id)"), ("recipient", PhoneMask.mask(recipient)), ("template", template.code)]
    }
}
