import Foundation
public import JobQueue
import PostgresClient

/// Sends one batch of a campaign: waits for the send window and the end of
/// marketing quiet hours (business time zone; the dispatch of each message holds
/// it again for its recipient's own zone), then locks its recipients' customer rows
/// (two campaigns deciding one customer at once take turns, so the cap holds) and
/// in one set-based statement decides each recipient — suppressed if opted out or
/// over the frequency cap, else its coupon granted and its message queued in the
/// outbox (dedupe key per campaign and customer) — and enqueues the messages'
/// dispatch jobs. All of it in the transaction that completes the job, under the
/// campaign's shared lock, and only while the batch is pending: a batch that runs
/// twice sends and grants once, and a pause or cancel is never overtaken by a
/// batch in flight.
public struct SendCampaignBatch: JobArguments {
    public static let kind = "campaign.send_batch"
    public var batchID: Int64
    /// The JSON name of `batchID`, for the jobs the launch enqueues per batch.
    static let idArgument = "batchID"

    public init(batchID: Int64) {
        self.batchID = batchID
    }

    public func validate() throws(JobArgumentsError) {
        try JobArgumentsError.requireID(batchID, "batchID")
    }

    /// The outbox dedupe key of a recipient's message, as an SQL expression over a
    /// recipient row alias.
    static func dedupeKey(_ alias: String) -> String {
        "'campaign:' || \(alias).campaign_id || ':' || \(alias).customer_id"
    }

    static let load = """
        SELECT b.campaign_id, b.status, c.status, c.starts_at, c.ends_at
        FROM platform.campaign_batches AS b JOIN platform.campaigns AS c ON c.id = b.campaign_id
        WHERE b.id = $1
        """

    /// `$1` the batch, `$2` now. Suppresses every recipient still targeted with the
    /// reason `$3` and finishes the batch as done.
    static let suppressBatch = """
        WITH batch AS (
            UPDATE platform.campaign_batches SET status = 'done', finished_at = $2 WHERE id = $1 AND status = 'pending'
            RETURNING id
        )
        UPDATE platform.campaign_recipients AS r SET status = 'suppressed', suppression = $3, decided_at = $2
        FROM batch AS b WHERE r.batch_id = b.id AND r.status = 'targeted'
        """

    /// `$1` the batch: the customers of its recipients still to decide.
    static let recipientsToDecide = """
        SELECT COALESCE(array_agg(r.customer_id), '{}') FROM platform.campaign_recipients AS r
        WHERE r.batch_id = $1 AND r.status = 'targeted'
        """

    /// `$1` the customer ids of `recipientsToDecide`. Locks their customer rows, in
    /// id order, until the transaction ends: a batch of another campaign deciding
    /// one of them at the same time waits here, and its `send` (a later statement, so
    /// a later snapshot under READ COMMITTED) counts this batch's messages against
    /// the frequency cap. Id order keeps two batches from waiting on each other. A
    /// row lock rather than an advisory lock per customer: it lives in the row, not
    /// in the server's lock table, whose max_locks_per_transaction × connections
    /// slots a batch of up to 100 000 recipients would exhaust. `NO KEY UPDATE`
    /// leaves foreign-key checks (orders and coupons being written for these
    /// customers) unblocked, and waits for an opt-out being written, so the
    /// decision sees it. The worker may lock the rows: it may update some of their
    /// columns (tiers, points). The ids come from a statement of their own because
    /// Citus cannot lock rows of a coordinator table in a statement that also reads
    /// the distributed recipients (it fails reading the subquery's result). The set
    /// cannot change in between in a way that matters: the launch and a cancel
    /// write a batch's targeted recipients under the campaign's exclusive lock (the
    /// send holds it shared), and another run of the same batch decides nothing
    /// once this one has finished the batch.
    static let lockRecipients = """
        SELECT count(*) FROM (
            SELECT cu.id FROM platform.customers AS cu WHERE cu.id = ANY ($1::int8[])
            ORDER BY cu.id
            FOR NO KEY UPDATE OF cu
        ) AS locked
        """

    /// `$1` the batch, `$2` now. Decides every recipient still targeted; run after
    /// `lockRecipients` in the same transaction, so the cap holds across campaigns.
    /// Returns the new outbox messages' ids.
    static let send = """
        WITH batch AS (
            UPDATE platform.campaign_batches AS b SET status = 'done', finished_at = $2
            FROM platform.campaigns AS c LEFT JOIN platform.coupon_templates AS t ON t.id = c.coupon_template_id
            WHERE b.id = $1 AND b.status = 'pending' AND c.id = b.campaign_id
            RETURNING b.id, b.campaign_id, c.template_code, c.params, c.coupon_template_id, t.name AS coupon_name,
                      t.valid_days
        ), rules AS (
            SELECT max(value) FILTER (WHERE code = 'frequency_cap_messages') AS cap_messages,
                   max(value) FILTER (WHERE code = 'frequency_cap_days') AS cap_days
            FROM platform.marketing_rules
        ), targets AS MATERIALIZED (
            -- The batch's recipients still to decide, each with its campaign messages
            -- queued within the cap's days. Read on their own, so on Citus this is one
            -- read per shard (the count is on the recipient's own shard: customer_id
            -- is the distribution column) and the join with customers below runs on
            -- the coordinator, instead of the customers table being shipped to the shards.
            SELECT r.campaign_id, r.customer_id,
                   (SELECT count(*) FROM platform.campaign_recipients AS p
                    WHERE p.customer_id = r.customer_id AND p.status = 'queued'
                      AND p.decided_at > $2::timestamptz - (SELECT cap_days FROM rules) * interval '1 day') AS recent
            FROM platform.campaign_recipients AS r
            WHERE r.batch_id = $1 AND r.status = 'targeted'
        ), decided AS (
            SELECT t.campaign_id, t.customer_id, cu.phone, cu.name, cu.time_zone,
                   CASE WHEN cu.marketing_opted_out_at IS NOT NULL THEN '\(CampaignSuppression.optedOut.rawValue)'
                        WHEN t.recent >= x.cap_messages THEN '\(CampaignSuppression.frequencyCap.rawValue)'
                   END AS suppression
            FROM batch AS b CROSS JOIN rules AS x CROSS JOIN targets AS t
            JOIN platform.customers AS cu ON cu.id = t.customer_id
        ), granted AS (
            INSERT INTO platform.coupons (template_id, customer_id, valid_from, valid_until)
            SELECT b.coupon_template_id, d.customer_id, $2, $2::timestamptz + b.valid_days * interval '1 day'
            FROM decided AS d CROSS JOIN batch AS b
            WHERE d.suppression IS NULL AND b.coupon_template_id IS NOT NULL
            RETURNING id, customer_id
        ), marked AS (
            UPDATE platform.campaign_recipients AS r
            SET status = CASE WHEN d.suppression IS NULL THEN 'queued' ELSE 'suppressed' END,
                suppression = d.suppression, coupon_id = g.id, decided_at = $2
            FROM decided AS d LEFT JOIN granted AS g ON g.customer_id = d.customer_id
            WHERE r.campaign_id = d.campaign_id AND r.customer_id = d.customer_id
        ), queued AS (
            \(NotificationOutbox.insertSelect(
                """
                (SELECT b.template_code,
                        b.params || jsonb_build_object('\(CampaignDesk.recipientParameters[0])', d.name)
                            || CASE WHEN b.coupon_name IS NULL THEN '{}'::jsonb
                                    ELSE jsonb_build_object('\(CampaignDesk.couponParameter)', b.coupon_name) END,
                        d.phone, d.time_zone, \(dedupeKey("d"))
                 FROM decided AS d CROSS JOIN batch AS b WHERE d.suppression IS NULL)
                """, now: "$2"))
        )
        SELECT id FROM queued
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let id = batchID
        guard let row = try await context.database.query(Self.load, [id]).first else {
            throw JobDiscarded("campaign batch \(id) does not exist")
        }
        let (campaignID, batchStatus, campaignStatus, startsAt, endsAt) = try row.decode((Int64, String, String, Date, Date).self)
        guard batchStatus == "pending", campaignStatus == CampaignStatus.running.rawValue else { return }
        // Waiting is a snooze, decided before the transaction that completes the job.
        if now < startsAt {
            throw JobSnoozed(for: .milliseconds(Int64(startsAt.timeIntervalSince(now) * 1000) + 1))
        }
        var suppression: CampaignSuppression? = now >= endsAt ? .windowClosed : nil
        if suppression == nil, let opens = services.flowControl.quietUntil(now, calendar: services.calendar) {
            guard opens >= endsAt else {
                let wake = services.flowControl.wakeTime(
                    ofJob: context.job.id, after: opens, now: now, latest: endsAt)
                throw JobSnoozed(for: .milliseconds(Int64(max(0.05, wake.timeIntervalSince(now)) * 1000) + 1))
            }
            suppression = .quietHours
        }
        let decided = suppression
        let messages = try await context.completeInTransaction { connection in
            try Self.decide(batch: id, campaign: campaignID, now: now, suppression: decided, on: connection)
        }
        services.log.info(
            "campaign batch sent",
            [("campaign_id", "\(campaignID)"), ("batch_id", "\(id)"), ("queued", "\(messages.count)")]
                + (suppression.map { [("suppressed", $0.rawValue)] } ?? []))
    }

    /// Decides the batch in the caller's transaction (the job's completing one), under
    /// the campaign's shared lock and only while the campaign runs: every recipient
    /// suppressed with `suppression` when there is one, else decided by `send` and the
    /// messages' dispatch jobs enqueued. Returns the new outbox messages' ids.
    static func decide(
        batch id: Int64, campaign campaignID: Int64, now: Date, suppression: CampaignSuppression?,
        on connection: PostgresConnection
    ) throws -> [Int64] {
        try connection.query(CampaignDesk.lockStatement(shared: true), [campaignID])
        // Paused or cancelled while this job waited for the lock: leave the batch as it is.
        let current = try connection.query("SELECT status FROM platform.campaigns WHERE id = $1", [campaignID])
            .scalar(String.self)
        guard current == CampaignStatus.running.rawValue else { return [] }
        if let suppression {
            try connection.execute(Self.suppressBatch, [id, now, suppression.rawValue])
            return []
        }
        let customers = try connection.query(Self.recipientsToDecide, [id]).scalar([Int64].self)
        try connection.query(Self.lockRecipients, [customers])
        let ids = try connection.query(Self.send, [id, now]).rows.map { try $0.decode(0, as: Int64.self) }
        try NotificationOutbox.enqueueDispatch(ids, on: connection)
        return ids
    }
}
