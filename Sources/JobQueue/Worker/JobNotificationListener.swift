import PostgresClient

/// Holds one connection in LISTEN on the jobs channel. A notification names a queue:
/// its producer claims for its idle slots right here, on this connection and thread
/// (both awake already, so the job starts without waking a pooled connection), or is
/// woken to claim itself (`QueueProducer.claimAnnounced`). It reconnects after a lost
/// connection and then wakes every producer, since notifications sent meanwhile were
/// missed.
struct JobNotificationListener: Sendable {
    let configuration: PostgresConfiguration
    let producers: [String: QueueProducer]
    let log: JobLog
    let outage: DatabaseOutage
    let wakeup: PostgresWakeup

    func run() async {
        let session = PostgresSession(configuration: configuration, name: "listener")
        var connectedBefore = false
        while !Task.isCancelled {
            do {
                try await withTaskCancellationHandler {
                    try await session.withConnection { [producers, wakeup, outage, log] connection in
                        try connection.listen(JobChannel.name)
                        outage.answered()
                        if connectedBefore { for producer in producers.values { producer.requestClaim() } }
                        // Cleared when a claim fails on a connection that still listens (a
                        // LISTEN-only role, say): the producers claim from then on.
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
