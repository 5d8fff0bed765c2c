import Foundation

/// One rendered message, ready for a channel's gateway.
public struct OutgoingMessage: Sendable, Equatable, Codable {
    public enum Channel: String, Sendable, Codable, CaseIterable {
        case sms, push, inApp = "in_app"
    }

    public var notificationID: Int64
    public var channel: Channel
    /// Phone number for sms; device or user address for push and in-app.
    public var recipient: String
    public var templateCode: String
    public var body: String
    /// Stable across retries of the same notification, so a gateway that saw the
    /// first try can refuse to deliver twice.
    public var idempotencyKey: String

    public init(
        notificationID: Int64, channel: Channel, recipient: String, templateCode: String, body: String,
        idempotencyKey: String
    ) {
        self.notificationID = notificationID
        self.channel = channel
        self.recipient = recipient
        self.templateCode = templateCode
        self.body = body
        self.idempotencyKey = idempotencyKey
    }
}

/// What a gateway said about one message.
public enum DeliveryResult: Sendable, Equatable {
    /// Accepted; the gateway's message id if it gave one.
    case delivered(providerMessageID: String?)
    /// Refused for good (4xx): retrying cannot help; the reason is stored.
    case rejected(reason: String)
}

/// A failure worth retrying (5xx, timeout, connection refused).
public struct TransientDeliveryError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Sends messages for one or more channels. Implementations must be safe to call
/// concurrently from many jobs.
public protocol NotificationProvider: Sendable {
    /// Throws `TransientDeliveryError` for failures a retry may fix.
    func send(_ message: OutgoingMessage) async throws -> DeliveryResult
}
