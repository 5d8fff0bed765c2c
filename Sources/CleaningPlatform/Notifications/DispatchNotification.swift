import Foundation
public import JobQueue
import PostgresClient

/// Sends one outbox message: render, quiet hours, flow control, provider. Safe to
/// run twice: a message already sent, failed or suppressed is left alone, the
/// provider sees a stable idempotency key, and "sent" is recorded in the same
/// transaction that completes the job.
public struct DispatchNotification: JobArguments {
    public static let kind = "notification.dispatch"
    public var notificationID: Int64
    /// The JSON name of `notificationID`, for jobs whose arguments the database
    /// builds (`NotificationOutbox.enqueueDispatch`).
    static let idArgument = "notificationID"

    public init(notificationID: Int64) {
        self.notificationID = notificationID
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(notificationID, "notificationID")
    }

    static let load = PendingNotification.select + "\nWHERE n.id = $1"

    static let close = """
        UPDATE platform.notifications SET status = $2, failure_reason = $3, rendered_body = COALESCE($4, rendered_body)
        WHERE id = $1 AND status = 'pending'
        """

    static let markSent = """
        UPDATE platform.notifications SET status = 'sent', sent_at = $2, provider_message_id = $3, rendered_body = $4
        WHERE id = $1 AND status = 'pending'
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let id = notificationID
        guard let row = try await context.database.query(Self.load, [id]).first else {
            throw JobDiscarded("notification \(id) does not exist")
        }
        let notification = try PendingNotification(row: row)
        guard notification.status == NotificationStatus.pending.rawValue else { return }
        let template = notification.template
        let expiresAt = notification.expiresAt
        let now = services.clock.now
        let log = services.log
        let fields = notification.logFields
        let flowControl = services.flowControl
        let body: String
        switch notification.decide(now: now, services: services) {
        case .send(let rendered):
            body = rendered
        case .close(let status, let reason, let logLine):
            try await close(id, status, reason, context)
            if let logLine { log.info(logLine, fields) }
            if status == .failed { throw JobDiscarded(reason) }
            return
        case .holdUntil(let opens):
            let wake = flowControl.wakeTime(ofJob: context.job.id, after: opens, now: now, latest: expiresAt)
            throw Self.snooze(until: wake, now: now)
        }
        let limit = flowControl.rateLimit(for: template, recipient: notification.recipient)
        let jobID = context.job.id
        if let freeAt = try await context.database.withConnection({ try limit.take(on: $0, jobID: jobID) }) {
            let until = ZonedTimeText.format(freeAt, in: services.timeZone)
            if freeAt >= expiresAt {
                try await close(
                    id, .suppressed, "flow control: \(template.category.rawValue) limit for this recipient reached "
                        + "until \(until), past its validity", context)
                log.info("notification suppressed by flow control", fields)
                return
            }
            log.info("notification delayed by flow control", fields + [("until", until)])
            let wake = flowControl.wakeTime(ofJob: jobID, after: freeAt, now: now, latest: expiresAt)
            throw Self.snooze(until: wake, now: now)
        }

        // The permit just taken counts a send; whatever keeps the gateway from
        // accepting the message (lease lost, refusal, failure) gives it back.
        let message = notification.outgoing(body: body)
        let result: DeliveryResult
        do {
            try await context.ensureLeaseHeld()
            result = try await services.provider.send(message)
        } catch {
            try await giveBack(limit, context)
            throw error
        }
        switch result {
        case .delivered(let providerID):
            let sentAt = services.clock.now
            try await context.completeInTransaction { connection in
                try connection.execute(Self.markSent, [id, sentAt, providerID, body])
            }
        case .rejected(let reason):
            try await giveBack(limit, context)
            try await close(id, .failed, "provider rejected it: \(reason)", context, body: body)
            throw JobDiscarded("provider rejected notification \(id): \(reason)")
        }
    }

    /// Runs the job again at `wake` (at least 50 ms on), without using up an attempt.
    static func snooze(until wake: Date, now: Date) -> JobSnoozed {
        JobSnoozed(for: .milliseconds(Int64(max(0.05, wake.timeIntervalSince(now)) * 1000) + 1))
    }

    private func giveBack(_ limit: RateLimit, _ context: JobContext) async throws {
        let jobID = context.job.id
        _ = try await context.database.withConnection { try limit.giveBack(on: $0, jobID: jobID) }
    }

    private func close(
        _ id: Int64, _ status: NotificationStatus, _ reason: String, _ context: JobContext, body: String? = nil
    ) async throws {
        _ = try await context.database.query(Self.close, [id, status.rawValue, PhoneMask.maskAll(in: reason), body])
    }
}
