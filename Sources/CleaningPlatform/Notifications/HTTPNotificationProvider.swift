public import Foundation
public import JobQueue

/// Sends messages to a gateway that takes one JSON POST per message — the shape
/// most SMS and push relays offer, and the one our own relay service speaks.
///
/// Request body: `{"body", "channel", "notification_id", "recipient", "template"}`;
/// headers `Content-Type: application/json`, `Idempotency-Key` (stable across
/// retries, so a gateway that already took the message does not send it twice)
/// and, when configured, `Authorization: Bearer …`.
///
/// Answers are sorted by `JSONPostClient`: 2xx is delivered (with the gateway's
/// `id` or `message_id`); 4xx is rejected for good (the gateway's reason is
/// kept), except 408 and 429, which say "later"; 5xx, other statuses, timeouts
/// and connection failures throw `TransientDeliveryError` so the job is retried
/// with backoff. The whole exchange is bounded by `timeout`.
///
/// Logs one line per message with the recipient masked; the bearer token, the
/// body and the endpoint's path and query are never logged.
public final class HTTPNotificationProvider: NotificationProvider {
    private let client: JSONPostClient
    private let log: JobLog

    public var endpoint: URL { client.endpoint }
    public var timeout: Duration { client.timeout }

    public init(endpoint: URL, timeout: Duration = .seconds(5), bearerToken: String? = nil, log: JobLog) {
        client = JSONPostClient(endpoint: endpoint, timeout: timeout, bearerToken: bearerToken)
        self.log = log
    }

    public func send(_ message: OutgoingMessage) async throws -> DeliveryResult {
        let payload = Payload(
            notificationID: message.notificationID, channel: message.channel.rawValue, recipient: message.recipient,
            template: message.templateCode, body: message.body)
        let reply = try await client.post(payload, idempotencyKey: message.idempotencyKey)
        let fields = [
            ("notification_id", String(message.notificationID)),
            ("channel", message.channel.rawValue),
            ("recipient", PhoneMask.mask(message.recipient)),
            ("template", message.templateCode),
        ]
        switch reply.verdict {
        case .accepted(let data):
            let providerID = JSONPostClient.identifier(in: data, keys: ["id", "message_id"])
            log.info(
                "notification sent (http)",
                fields + [("provider_message_id", providerID.map(PhoneMask.maskAll(in:)) ?? "")] + reply.logFields)
            return .delivered(providerMessageID: providerID)
        case .rejected(let reason):
            log.warning("notification rejected (http)", fields + [("reason", reason)] + reply.logFields)
            return .rejected(reason: reason)
        case .transient(let failure):
            log.warning("notification send failed (http)", fields + [("error", failure.reason)] + reply.logFields)
            throw failure
        }
    }

    /// The wire form: snake_case keys, independent of `OutgoingMessage`'s own
    /// Codable form so renaming a Swift property cannot change the protocol.
    private struct Payload: Encodable {
        var notificationID: Int64
        var channel: String
        var recipient: String
        var template: String
        var body: String

        enum CodingKeys: String, CodingKey {
            case notificationID = "notification_id"
            case channel, recipient, template, body
        }
    }
}
