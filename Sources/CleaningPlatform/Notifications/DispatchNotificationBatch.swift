import Foundation
public import JobQueue
import PostgresClient
import Synchronization

/// Sends a batch of outbox messages with a handful of statements and one commit,
/// whatever its size: one read of every message, every flow-control permit taken
/// set-based, the sends, and one transaction that records every outcome together
/// with the job's completion. That is the fast path of bulk sending; a message it
/// cannot finish at once — held back by flow control or quiet hours, or a gateway
/// failure worth retrying — becomes its own `DispatchNotification` job in that
/// same transaction, where the one-message rules (snooze, backoff, suppression
/// past validity) apply. A batch that quiet hours hold back whole snoozes as one.
///
/// Safe to run twice: a message no longer pending is skipped; a run that dies
/// between its sends and its commit leaves every message pending, and the next run
/// gives the gateway the same idempotency keys, so nothing is delivered twice and
/// nothing is lost.
public struct DispatchNotificationBatch: JobArguments {
    public static let kind = "notification.dispatch_batch"
    /// At most this many messages per job: a batch is one job's timeout worth of sends.
    public static let maximumSize = 1_000
    /// Sends in flight at once per batch, for gateways that answer over the network.
    static let sendsAtOnce = 8
    /// A message whose send failed in a way a retry may fix goes to its own job,
    /// which first tries it again after this long (then with that job's backoff).
    static let retryDelay: TimeInterval = 5

    public var notificationIDs: [Int64]

    public init(notificationIDs: [Int64]) {
        self.notificationIDs = notificationIDs
    }

    public func validate() throws(JobArgumentsError) {
        if notificationIDs.isEmpty { throw JobArgumentsError("notificationIDs must name at least one notification") }
        if notificationIDs.count > Self.maximumSize {
            throw JobArgumentsError("notificationIDs holds \(notificationIDs.count) ids, at most \(Self.maximumSize) allowed")
        }
        for id in notificationIDs { try JobArgumentsError.requireID(id, "notificationIDs") }
    }

    static let load = PendingNotification.select + "\nWHERE n.id = ANY($1) AND n.status = 'pending' ORDER BY n.id"

    /// Every delivered message of the batch: `$1` ids, `$2` sent times (µs since the
    /// epoch), `$3` the gateway's message ids, `$4` the bodies sent.
    static let markSent = """
        UPDATE platform.notifications AS n
        SET status = 'sent', sent_at = timestamptz 'epoch' + s.sent_us * interval '1 microsecond',
            provider_message_id = s.provider_id, rendered_body = s.body
        FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[]) AS s(id, sent_us, provider_id, body)
        WHERE n.id = s.id AND n.status = 'pending'
        """

    /// Messages closed for good: `$1` ids, `$2` statuses, `$3` reasons, `$4` bodies (NULL: keep).
    static let close = """
        UPDATE platform.notifications AS n
        SET status = c.status, failure_reason = c.reason, rendered_body = COALESCE(c.body, n.rendered_body)
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[]) AS c(id, status, reason, body)
        WHERE n.id = c.id AND n.status = 'pending'
        """

    /// What became of one message in this run.
    private enum Outcome {
        case sent(providerID: String?, at: Date, body: String)
        case closed(NotificationStatus, reason: String, body: String?)
        /// Left to its own job, starting at this moment (nil: at once).
        case handedOff(runAt: Date?)
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let rows = try await context.database.query(Self.load, [notificationIDs])
        let notifications = try rows.rows.map(PendingNotification.init(row:))
        guard !notifications.isEmpty else { return }
        let now = services.clock.now
        let log = services.log
        var outcomes: [Int64: Outcome] = [:]
        var sendable: [(PendingNotification, String)] = []
        var held: [(opens: Date, expiresAt: Date)] = []
        for notification in notifications {
            switch notification.decide(now: now, services: services) {
            case .send(let body):
                sendable.append((notification, body))
            case .close(let status, let reason, let logLine):
                outcomes[notification.id] = .closed(status, reason: reason, body: nil)
                if let logLine { log.info(logLine, notification.logFields) }
            case .holdUntil(let opens):
                held.append((opens, notification.expiresAt))
                outcomes[notification.id] = .handedOff(runAt: nil)
            }
        }
        // A batch wholly held back by quiet hours (marketing queued at night) waits as
        // one job rather than as a job per message.
        if held.count == notifications.count, let opens = held.map(\.opens).min(),
            let latest = held.map(\.expiresAt).min()
        {
            throw DispatchNotification.snooze(
                until: services.flowControl.wakeTime(ofJob: context.job.id, after: opens, now: now, latest: latest),
                now: now)
        }

        // One permit per message, all in one transaction; a message its recipient's
        // limit holds back is left to its own job, which says until when.
        let limits = sendable.map { services.flowControl.rateLimit(for: $0.0.template, recipient: $0.0.recipient) }
        let jobID = context.job.id
        let granted = limits.isEmpty
            ? [] : try await context.database.withConnection { try RateLimit.take(limits, jobID: jobID, on: $0) }
        var toSend: [(message: OutgoingMessage, limit: RateLimit)] = []
        for (index, (notification, body)) in sendable.enumerated() {
            if granted[index] {
                toSend.append((notification.outgoing(body: body), limits[index]))
            } else {
                outcomes[notification.id] = .handedOff(runAt: nil)
            }
        }

        // The permits just taken count sends; a message the gateway did not accept
        // gives its permit back in the closing transaction. A worker that lost its
        // job (stalled past its lease) must not call the gateway at all.
        var givenBack: [RateLimit] = []
        if !toSend.isEmpty {
            try await context.ensureLeaseHeld()
            let results = await Self.send(toSend.map(\.message), through: services)
            for ((message, limit), result) in zip(toSend, results) {
                switch result {
                case .success(.delivered(let providerID)):
                    outcomes[message.notificationID] = .sent(providerID: providerID, at: services.clock.now, body: message.body)
                case .success(.rejected(let reason)):
                    givenBack.append(limit)
                    outcomes[message.notificationID] = .closed(
                        .failed, reason: "provider rejected it: \(reason)", body: message.body)
                case .failure(let error):
                    givenBack.append(limit)
                    log.warning(
                        "notification send failed, retried in its own job",
                        [("notification_id", "\(message.notificationID)"), ("error", PhoneMask.maskAll(in: "\(error)"))])
                    outcomes[message.notificationID] = .handedOff(runAt: now.addingTimeInterval(Self.retryDelay))
                }
            }
            try Task.checkCancellation()
        }
        let settled = outcomes
        let returned = givenBack
        try await context.completeInTransaction { connection in
            try Self.record(settled, givenBack: returned, jobID: jobID, on: connection)
        }
    }

    /// Hands every message to the gateway, `sendsAtOnce` at a time; the results in
    /// the messages' order.
    private static func send(
        _ messages: [OutgoingMessage], through services: PlatformServices
    ) async -> [Result<DeliveryResult, any Error>] {
        let results = SendResults(count: messages.count)
        await withTaskGroup(of: Void.self) { group in
            for (index, message) in messages.enumerated() {
                if index >= sendsAtOnce { await group.next() }
                group.addTask {
                    do {
                        results.set(index, .success(try await services.provider.send(message)))
                    } catch {
                        results.set(index, .failure(error))
                    }
                }
            }
        }
        return results.all
    }

    /// Writes every outcome in the job's completing transaction: sent and closed
    /// messages, permits given back, and one job per message handed off.
    private static func record(
        _ outcomes: [Int64: Outcome], givenBack: [RateLimit], jobID: Int64, on connection: PostgresConnection
    ) throws {
        var sent: (ids: [Int64], times: [Int64], providerIDs: [String?], bodies: [String]) = ([], [], [], [])
        var closed: (ids: [Int64], statuses: [String], reasons: [String], bodies: [String?]) = ([], [], [], [])
        var handedOff: [JobRequest] = []
        for (id, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .sent(let providerID, let at, let body):
                sent.ids.append(id)
                sent.times.append(Int64((at.timeIntervalSince1970 * 1_000_000).rounded()))
                sent.providerIDs.append(providerID)
                sent.bodies.append(body)
            case .closed(let status, let reason, let body):
                closed.ids.append(id)
                closed.statuses.append(status.rawValue)
                closed.reasons.append(PhoneMask.maskAll(in: reason))
                closed.bodies.append(body)
            case .handedOff(let runAt):
                handedOff.append(try NotificationOutbox.dispatchRequest(for: id, runAt: runAt))
            }
        }
        if !sent.ids.isEmpty {
            try connection.execute(Self.markSent, [sent.ids, sent.times, sent.providerIDs, sent.bodies])
        }
        if !closed.ids.isEmpty {
            try connection.execute(Self.close, [closed.ids, closed.statuses, closed.reasons, closed.bodies])
        }
        for limit in givenBack { try limit.giveBack(on: connection, jobID: jobID) }
        if !handedOff.isEmpty { _ = try connection.enqueue(handedOff) }
    }
}

/// The gateway's answers to a batch's concurrent sends, each in its message's slot.
private final class SendResults: Sendable {
    private let slots: Mutex<[Result<DeliveryResult, any Error>?]>

    init(count: Int) {
        slots = Mutex(Array(repeating: nil, count: count))
    }

    func set(_ index: Int, _ result: Result<DeliveryResult, any Error>) {
        slots.withLock { $0[index] = result }
    }

    /// Every slot, once every send has answered.
    var all: [Result<DeliveryResult, any Error>] { slots.withLock { $0.map { $0! } } }
}
