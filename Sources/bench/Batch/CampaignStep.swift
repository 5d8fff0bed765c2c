import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient

/// `bench batch`'s campaign step: a marketing campaign to every customer (a segment
/// of every tier), 1 % of them opted out: the launch (the segment evaluated,
/// every recipient written in batches of 1 000, one send job per batch), then the
/// batches through a real worker (each recipient decided, coupons granted,
/// messages and their dispatch jobs queued), then `dispatchSeconds` of sending
/// through the outbox with a provider that answers at once (a rate, not the whole
/// send, unless it finishes first).
enum CampaignStep {
    static func time(
        now: Date, services: PlatformServices, database: DatabaseOptions, concurrency: Int, dispatchSeconds: Int
    ) async throws -> [BatchCommand.Result] {
        let connection = try PostgresConnection.connect(database.configuration)
        // Untimed: who opted out, and a coupon template to grant.
        try connection.execute(
            "UPDATE platform.customers SET marketing_opted_out_at = $1 WHERE id % 100 = 0 AND marketing_opted_out_at IS NULL",
            [now])
        let coupon = try connection.query(
            "INSERT INTO platform.coupon_templates (name, discount_fen, valid_days) VALUES ('回流满200减30', 3000, 14) RETURNING id"
        ).scalar(Int64.self)
        let tiers = try connection.query("SELECT name FROM platform.member_tiers ORDER BY threshold").rows
            .map { try $0.decode(0, as: String.self) }
        let id = try CampaignDesk.create(
            CampaignDesk.NewCampaign(
                name: "bench \(UUID().uuidString.prefix(8))", segment: CampaignSegment(tiers: tiers),
                templateCode: "campaign_coupon", parameters: ["offer": "本周深度保洁8折"], couponTemplateID: coupon,
                startsAt: now.addingTimeInterval(-60), endsAt: now.addingTimeInterval(86_400)),
            now: now, timeZone: services.timeZone, on: connection)

        var results: [BatchCommand.Result] = []
        var loadBefore = LoadAverage.text(places: 1)
        let began = ContinuousClock.now
        let launch = try CampaignDesk.launch(id, now: now, calendar: services.calendar, on: connection)
        let launchSeconds = (ContinuousClock.now - began).seconds
        results.append(BatchCommand.Result(
            name: "campaign launch (targeting)", seconds: launchSeconds, load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
            detail: String(format: "%d customers targeted in %d batches, %.0f recipients/s", launch.targeted, launch.batches,
                           Double(launch.targeted) / launchSeconds)))

        loadBefore = LoadAverage.text(places: 1)
        let sendSeconds = try await TimedWorkerRun.time(
            database.configuration, services: services, queues: [CampaignDesk.batchQueue: concurrency]
        ) { pool in
            { try await pool.query(
                "SELECT count(*)::int8 FROM platform.campaign_batches WHERE campaign_id = $1 AND status = 'pending'", [id]
            ).scalar(Int64.self) == 0 }
        }
        let report = try CampaignReport.of(id, on: connection)
        results.append(BatchCommand.Result(
            name: "campaign batches (queueing the sends)", seconds: sendSeconds,
            load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
            detail: String(format: "%d messages and coupons queued (%.0f/s), %d suppressed (opted out %d)", report.queued,
                           Double(report.queued) / sendSeconds, report.suppressedTotal, report.suppressed[.optedOut] ?? 0)))

        if dispatchSeconds > 0 {
            loadBefore = LoadAverage.text(places: 1)
            let deadline = ContinuousClock.now + .seconds(dispatchSeconds)
            let seconds = try await TimedWorkerRun.time(
                database.configuration, services: services, queues: [NotificationOutbox.dispatchQueue: 16]
            ) { pool in
                {
                    if ContinuousClock.now >= deadline { return true }
                    return try await pool.query(
                        "SELECT NOT EXISTS (SELECT 1 FROM platform.notifications WHERE status = 'pending' AND template_code = $1)",
                        ["campaign_coupon"]
                    ).scalar(Bool.self)
                }
            }
            let sent = try CampaignReport.of(id, on: connection).sent
            results.append(BatchCommand.Result(
                name: "campaign messages dispatched (for up to \(dispatchSeconds) s)", seconds: seconds,
                load: "\(loadBefore)→\(LoadAverage.text(places: 1))",
                detail: String(format: "%d of %d sent, %.0f messages/s (all %d at this rate: %.0f s)", sent, report.queued,
                               Double(sent) / seconds, report.queued, Double(report.queued) / max(1, Double(sent) / seconds))))
        }
        return results
    }
}
