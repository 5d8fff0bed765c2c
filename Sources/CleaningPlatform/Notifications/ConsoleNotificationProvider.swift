public import JobQueue

/// The development default: "sends" each message by writing one structured log
/// line, so the whole notification pipeline (rendering, retries, bookkeeping) can
/// run on a laptop without gateway credentials and without texting real people.
///
/// The line carries the masked recipient and the body with any phone number in it
/// masked, so these logs are as safe to ship as production ones.
public struct ConsoleNotificationProvider: NotificationProvider {
    private let log: JobLog

    public init(log: JobLog = PlatformLog.make()) {
        self.log = log
    }

    /// Always succeeds; the id is derived from the notification so retries of the
    /// same notification report the same id, as a real gateway would.
    public func send(_ message: OutgoingMessage) async throws -> DeliveryResult {
        log.info(
            "notification sent (console)",
            [
                ("notification_id", String(message.notificationID)),
                ("channel", message.channel.rawValue),
                ("recipient", PhoneMask.mask(message.recipient)),
                ("template", message.templateCode),
                ("body_length", String(message.body.count)),
                ("body", PhoneMask.maskAll(in: message.body)),
            ])
        return .delivered(providerMessageID: "console-\(message.notificationID)")
    }
}
