import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// Enqueues one `coupon.expire` job and times it through a real JobWorker working
/// the maintenance queue, from the worker's start until the job row is completed.
struct CouponExpiryPhase {
    let options: PlatformOptions
    let pool: PostgresPool
    let dataset: Dataset
    let serverPID: Int32?

    struct Result: Sendable {
        var coupons: Int
        /// The job's run (polled every 10 ms): its final state, wall and server CPU.
        var job: SingleJobRun.Outcome
        /// What the job's own log line said it expired (every due coupon in the database).
        var reportedByJob: Int?
        var expired: Int
        var notExpired: Int
        var badExpiryTime: Int

        var verified: Bool {
            job.state == .completed && expired == coupons && notExpired == 0 && badExpiryTime == 0
        }
        var rate: Double { Double(coupons) / job.wall.seconds }
    }

    func run() async throws -> Result {
        let tally = LogTally(keeping: ["coupons expired"])
        let services = PlatformServices(provider: InstantProvider(), log: tally.log(minimumLevel: .info))
        Output.log("expiring \(dataset.coupons) coupons: one coupon.expire job, worker on queue maintenance …")
        let job = try await SingleJobRun(options: options, pool: pool, serverPID: serverPID).run(
            try JobRequest(ExpireCoupons(), queue: PlatformJobs.maintenanceQueue), name: "coupon.expire",
            workerName: "expiry", services: services, workerLog: LogTally().log(minimumLevel: .warning),
            pollEvery: .milliseconds(10))
        let counts = try await pool.query(
            """
            SELECT count(*) FILTER (WHERE status = 'expired')::int8,
                   count(*) FILTER (WHERE status <> 'expired')::int8,
                   count(*) FILTER (WHERE status = 'expired' AND (expired_at IS NULL OR expired_at < valid_until))::int8
            FROM platform.coupons WHERE template_id = $1
            """, [dataset.run]
        ).rows[0].decode((Int64, Int64, Int64).self)
        let reported = tally.lines("coupons expired").last.flatMap { LogTally.field("count", in: $0) }.flatMap { Int($0) }
        return Result(
            coupons: dataset.coupons, job: job, reportedByJob: reported,
            expired: Int(counts.0), notExpired: Int(counts.1), badExpiryTime: Int(counts.2))
    }
}
