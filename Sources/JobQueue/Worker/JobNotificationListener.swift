import PostgresClient

/// Holds one connection in LISTEN on the jobs channel and wakes the producer of
/// the queue named in each notification. It reconnects after a lost connection
/// and then wakes every producer, since notifications sent meanwhile were missed.
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
                    try await session.withConnection { [producers, wakeup, outage] connection in
                        try connection.listen(JobChannel.name)
                        outage.answered()
                        if connectedBefore { for producer in producers.values { producer.wake.signal() } }
                        while !Task.isCancelled {
                            for notification in try connection.waitForNotifications(timeout: .seconds(30), wakeup: wakeup) {
                                producers[notification.payload]?.wake.signal()
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
