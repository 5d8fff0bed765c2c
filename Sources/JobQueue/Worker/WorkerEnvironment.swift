import PostgresClient

/// What the parts of one worker share.
struct WorkerEnvironment: Sendable {
    let configuration: WorkerConfiguration
    let database: PostgresPool
    let registry: JobHandlerRegistry
    let running: RunningJobs
    let acknowledger: JobAcknowledger
    let metrics: WorkerMetrics
    let outage: DatabaseOutage
    let log: JobLog
}
