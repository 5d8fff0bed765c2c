import PostgresClient

/// Holds one connection in LISTEN on the jobs channel. A notification names a queue:
/// its producer claims for its idle slots right here, on this connection and thread
/// (both awake already, so the job starts without waking a pooled connection), or is
/// woken to claim itself (`QueueProducer.claimAnnounced`). It reconnects after a lost
/// connection and then wakes every producer, since notifications sent meanwhile were
/// missed.
///
/// Its session's `application_name` is the worker's with
/// `JobWorker.listenSessionNameSuffix` appended, so `pg_stat_activity` tells the LISTEN
/// session apart from the worker's pool sessions by what it is, whatever statement it
/// ran last (`LISTEN` or a claim).
struct JobNotificationListener: Sendable {
    let configuration: PostgresConfiguration
    let producers: [String: QueueProducer]
    let log: JobLog
    let outage: DatabaseOutage
    let wakeup: PostgresWakeup

    /// Appends the suffix ($1) to the connection's application name (the program's, the
    /// connection string's or `PGAPPNAME`), cut to fit PostgreSQL's 63 characters; once
    /// per session (a connection used again keeps its name).
    static let nameSession = """
        SELECT set_config('application_name', CASE WHEN right(current_setting('application_name'), length($1::text)) = $1::text
            THEN current_setting('application_name')
            ELSE left(current_setting('application_name'), 63 - length($1::text)) || $1::text END, false)
        """

    /// Whether a claim that failed on this connection would fail the same way every time:
    /// the role may not claim or the server refuses the statement (SQLSTATE classes 42
    /// and 0A, or a read-only session), as opposed to a timeout, a lock or a deadlock.
    static func failsEveryTime(_ error: any Error) -> Bool {
        guard let state = (error as? PostgresError)?.sqlState else { return false }
        return state.hasPrefix("42") || state.hasPrefix("0A") || state == "25006"
    }

    func run() async {
        let session = PostgresSession(configuration: configuration, name: "listener")
        var connectedBefore = false
        while !Task.isCancelled {
            do {
                try await withTaskCancellationHandler {
                    try await session.withConnection { [producers, wakeup, outage, log] connection in
                        _ = try connection.execute(Self.nameSession, [JobWorker.listenSessionNameSuffix])
                        try connection.listen(JobChannel.name)
                        outage.answered()
                        if connectedBefore { for producer in producers.values { producer.requestClaim() } }
                        // Cleared when a claim fails on a connection that still listens in a
                        // way that would repeat (a LISTEN-only role, say): the producers
                        // claim from then on. A passing failure (a lock or statement
                        // timeout) leaves that one claim to the producer only.
                        var claimsHere = true
                        while !Task.isCancelled {
                            let notifications = try connection.waitForNotifications(timeout: .seconds(30), wakeup: wakeup)
                            var announced = Set<String>()
                            for notification in notifications where announced.insert(notification.payload).inserted {
                                guard let producer = producers[notification.payload] else { continue }
                                guard claimsHere else {
                                    producer.requestClaim()
                                    continue
                                }
                                do {
                                    try producer.claimAnnounced(on: connection)
                                } catch where connection.isOpen && !Self.failsEveryTime(error) {
                                    log.warning(
                                        "claiming on the listener connection failed; the producer claims these jobs",
                                        [("queue", producer.queue), ("error", "\(error)")])
                                } catch where connection.isOpen {
                                    claimsHere = false
                                    log.warning(
                                        "claiming on the listener connection failed; the producers claim instead until it reconnects",
                                        [("queue", producer.queue), ("error", "\(error)")])
                                }
                            }
                        }
                    }
                } onCancel: {
                    wakeup.wake()
                }
            } catch {
                if Task.isCancelled { break }
                if !outage.failed("listening", error) {
                    log.warning("listener connection failed; polling continues, reconnecting", [("error", "\(error)")])
                }
                try? await Task.sleep(for: .seconds(1))
            }
            connectedBefore = true
        }
        await session.disconnect()
    }
}
