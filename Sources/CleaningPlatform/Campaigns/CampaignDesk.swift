public import Foundation
import JobQueue
public import PostgresClient

/// The back office's campaign actions: create (every input checked before the
/// campaign is written, so nothing bad is ever sent), launch (target the segment
/// in batches and enqueue one send job per batch; a paused campaign resumes),
/// pause and cancel mid-way, and list. Pause and cancel take the campaign's lock
/// exclusively and the send jobs take it shared, so a batch in flight finishes
/// before either returns and no batch starts sending after them.
public enum CampaignDesk {
    /// A refused action, in words an operator can act on.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// What a new campaign is.
    public struct NewCampaign: Sendable {
        public var name: String
        public var segment: CampaignSegment
        public var templateCode: String
        public var parameters: [String: String]
        public var couponTemplateID: Int64?
        public var startsAt: Date
        public var endsAt: Date
        public var batchSize: Int
        public var attributionDays: Int

        public init(
            name: String, segment: CampaignSegment, templateCode: String, parameters: [String: String] = [:],
            couponTemplateID: Int64? = nil, startsAt: Date, endsAt: Date, batchSize: Int = 1000, attributionDays: Int = 7
        ) {
            self.name = name
            self.segment = segment
            self.templateCode = templateCode
            self.parameters = parameters
            self.couponTemplateID = couponTemplateID
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.batchSize = batchSize
            self.attributionDays = attributionDays
        }
    }

    /// Parameters every recipient's message gets from the campaign's data: the
    /// customer's name, and the granted coupon's name when there is a grant.
    public static let recipientParameters = ["name"]
    public static let couponParameter = "coupon"

    /// The queue of the send jobs.
    public static let batchQueue = "campaigns"
    static let batchKeyPrefix = "campaign-batch:"

    /// The lock of one campaign: exclusive for pause and cancel, shared by send jobs.
    static func lockStatement(shared: Bool) -> String {
        "SELECT pg_advisory_xact_lock\(shared ? "_shared" : "")(hashtext('campaign'), hashtext($1::text))"
    }

    /// Checks everything, then writes the campaign as a draft; returns its id.
    public static func create(
        _ campaign: NewCampaign, now: Date, timeZone: TimeZone, on connection: PostgresConnection
    ) throws -> Int64 {
        guard !UnicodeText.isBlank(campaign.name) else { throw Refusal(description: "the name is blank; name the campaign") }
        guard campaign.endsAt > now else {
            throw Refusal(description: "the send window ends \(ZonedTimeText.format(campaign.endsAt, in: timeZone)), "
                + "which is past; give a window that ends in the future")
        }
        guard campaign.endsAt > campaign.startsAt else {
            throw Refusal(description: "the send window ends before it starts; give an end after the start")
        }
        guard (1...100_000).contains(campaign.batchSize) else {
            throw Refusal(description: "the batch size must be 1 to 100000, got \(campaign.batchSize)")
        }
        guard (1...365).contains(campaign.attributionDays) else {
            throw Refusal(description: "the attribution days must be 1 to 365, got \(campaign.attributionDays)")
        }
        return try connection.withTransaction { connection in
            guard let row = try connection.query(
                "SELECT channel, category, body, validity_minutes FROM platform.notification_templates WHERE code = $1",
                [campaign.templateCode]
            ).first else {
                throw Refusal(description: "template \"\(campaign.templateCode)\" does not exist; marketing templates: "
                    + (try marketingTemplates(on: connection)).joined(separator: ", "))
            }
            let (channel, category, body, validity) = try row.decode((String, String, String, Int32).self)
            guard category == NotificationTemplate.Category.marketing.rawValue else {
                throw Refusal(description: "template \"\(campaign.templateCode)\" is a \(category) template; a campaign "
                    + "sends marketing: " + (try marketingTemplates(on: connection)).joined(separator: ", "))
            }
            var given = campaign.parameters
            for name in recipientParameters { given[name] = name }
            if let couponID = campaign.couponTemplateID {
                guard try connection.query("SELECT 1 FROM platform.coupon_templates WHERE id = $1", [couponID]).first != nil else {
                    throw Refusal(description: "coupon template \(couponID) does not exist; check the id")
                }
                given[couponParameter] = couponParameter
            }
            let template = NotificationTemplate(
                code: campaign.templateCode, channel: OutgoingMessage.Channel(rawValue: channel) ?? .sms,
                category: .marketing, body: body, validityMinutes: Int(validity))
            do {
                _ = try template.render(given)
            } catch {
                throw Refusal(description: "\(error); give it as a parameter (recipients add "
                    + (recipientParameters + (campaign.couponTemplateID == nil ? [] : [couponParameter])).joined(separator: ", ")
                    + " themselves)")
            }
            if let tiers = campaign.segment.tiers {
                let known = try connection.query("SELECT name FROM platform.member_tiers ORDER BY threshold").rows
                    .map { try $0.decode(0, as: String.self) }
                if let unknown = tiers.first(where: { !known.contains($0) }) {
                    throw Refusal(description: "tier \"\(unknown)\" does not exist; tiers: \(known.joined(separator: ", "))")
                }
            }
            let parameters = String(decoding: try JSONEncoder().encode(campaign.parameters), as: UTF8.self)
            return try connection.query(
                """
                INSERT INTO platform.campaigns (name, segment, template_code, params, coupon_template_id, starts_at, ends_at,
                                                batch_size, attribution_days, created_at)
                VALUES ($1, $2::jsonb, $3, $4::jsonb, $5, $6, $7, $8, $9, $10) RETURNING id
                """,
                [campaign.name, campaign.segment.json, campaign.templateCode, parameters, campaign.couponTemplateID,
                 campaign.startsAt, campaign.endsAt, Int32(campaign.batchSize), Int32(campaign.attributionDays), now]
            ).scalar(Int64.self)
        }
    }

    private static func marketingTemplates(on connection: PostgresConnection) throws -> [String] {
        try connection.query(
            "SELECT code FROM platform.notification_templates WHERE category = $1 ORDER BY code",
            [NotificationTemplate.Category.marketing.rawValue]
        ).rows.map { try $0.decode(0, as: String.self) }
    }

    /// What a launch did: the customers targeted (at the first launch) and the send
    /// jobs enqueued.
    public struct Launch: Sendable, Equatable {
        public var targeted: Int
        public var batches: Int
        public var resumed: Bool

        public init(targeted: Int, batches: Int, resumed: Bool) {
            self.targeted = targeted
            self.batches = batches
            self.resumed = resumed
        }
    }

    /// Launches a draft (targets its segment as of `now`, in batches, and enqueues a
    /// send job per batch) or resumes a paused campaign (enqueues the send jobs of
    /// its batches not sent yet), in one transaction.
    public static func launch(_ id: Int64, now: Date, calendar: BusinessCalendar, on connection: PostgresConnection) throws -> Launch {
        try connection.withTransaction { connection in
            try connection.query(lockStatement(shared: false), [id])
            let campaign = try load(id, on: connection)
            guard campaign.endsAt > now else {
                throw Refusal(description: "campaign \(id)'s send window ended \(ZonedTimeText.format(campaign.endsAt, in: calendar.timeZone)); "
                    + "create a new campaign")
            }
            let launch: Launch
            switch campaign.status {
            case .draft:
                let compiled = campaign.segment.compile(firstParameter: 3, now: now, calendar: calendar)
                let batchIDs = try connection.query(
                    """
                    WITH targeted AS (
                        SELECT c.id AS customer_id, ((row_number() OVER (ORDER BY c.id) - 1) / $2)::int4 AS batch_no
                        FROM platform.customers AS c WHERE \(compiled.condition)
                    ), batches AS (
                        -- DISTINCT in a subquery: Citus adds the columns' defaults (the id's
                        -- nextval) to an INSERT … SELECT DISTINCT's list, which made every
                        -- recipient a batch of its own.
                        INSERT INTO platform.campaign_batches (campaign_id, batch_no)
                        SELECT $1::int8, batch_no FROM (SELECT DISTINCT batch_no FROM targeted) AS numbers
                        RETURNING id, batch_no
                    ), recipients AS (
                        INSERT INTO platform.campaign_recipients (campaign_id, customer_id, batch_id)
                        SELECT $1, t.customer_id, b.id FROM targeted AS t JOIN batches AS b USING (batch_no)
                    )
                    SELECT id FROM batches
                    """, [id, Int64(campaign.batchSize)] + compiled.parameters
                ).rows.map { try $0.decode(0, as: Int64.self) }
                let targeted = try connection.query(
                    "SELECT count(*)::int8 FROM platform.campaign_recipients WHERE campaign_id = $1", [id]
                ).scalar(Int64.self)
                try connection.execute(
                    "UPDATE platform.campaigns SET status = $2, launched_at = $3 WHERE id = $1",
                    [id, CampaignStatus.running.rawValue, now])
                try enqueueBatches(batchIDs, campaign: id, on: connection)
                launch = Launch(targeted: Int(targeted), batches: batchIDs.count, resumed: false)
            case .paused:
                let batchIDs = try connection.query(
                    "SELECT id FROM platform.campaign_batches WHERE campaign_id = $1 AND status = 'pending' ORDER BY batch_no", [id]
                ).rows.map { try $0.decode(0, as: Int64.self) }
                try connection.execute(
                    "UPDATE platform.campaigns SET status = $2 WHERE id = $1", [id, CampaignStatus.running.rawValue])
                try enqueueBatches(batchIDs, campaign: id, on: connection)
                launch = Launch(targeted: 0, batches: batchIDs.count, resumed: true)
            case .running:
                throw Refusal(description: "campaign \(id) is already running; see `jobsctl campaigns report \(id)`")
            case .cancelled:
                throw Refusal(description: "campaign \(id) was cancelled; create a new campaign")
            }
            return launch
        }
    }

    private static func enqueueBatches(_ batchIDs: [Int64], campaign id: Int64, on connection: PostgresConnection) throws {
        try connection.enqueue(
            JobRequest(kind: SendCampaignBatch.kind, queue: batchQueue, tags: [tag(id)]),
            forEachID: batchIDs, argument: SendCampaignBatch.idArgument, uniqueKeyPrefix: batchKeyPrefix)
    }

    /// The tag of a campaign's send jobs.
    public static func tag(_ id: Int64) -> String { "campaign:\(id)" }

    /// Pauses a running campaign: batches not yet sent wait until it is launched again.
    public static func pause(_ id: Int64, on connection: PostgresConnection) throws {
        try connection.withTransaction { connection in
            try connection.query(lockStatement(shared: false), [id])
            let status = try load(id, on: connection).status
            guard status == .running else {
                throw Refusal(description: "campaign \(id) is \(status.rawValue); only a running campaign can be paused")
            }
            try connection.execute("UPDATE platform.campaigns SET status = $2 WHERE id = $1", [id, CampaignStatus.paused.rawValue])
        }
    }

    /// Cancels a campaign: its batches not yet sent are cancelled (their recipients
    /// suppressed as cancelled), messages queued but not yet sent are withdrawn from
    /// the outbox, and its waiting send jobs are cancelled. Sent messages stay sent.
    /// Returns the recipients cancelled and the messages withdrawn.
    @discardableResult
    public static func cancel(_ id: Int64, now: Date, on connection: PostgresConnection) throws -> (recipients: Int, messages: Int) {
        try connection.withTransaction { connection in
            try connection.query(lockStatement(shared: false), [id])
            let status = try load(id, on: connection).status
            guard status != .cancelled else {
                throw Refusal(description: "campaign \(id) is already cancelled")
            }
            try connection.execute(
                "UPDATE platform.campaigns SET status = $2, cancelled_at = $3 WHERE id = $1",
                [id, CampaignStatus.cancelled.rawValue, now])
            let recipients = try connection.query(
                """
                WITH batches AS (
                    UPDATE platform.campaign_batches SET status = 'cancelled', finished_at = $2
                    WHERE campaign_id = $1 AND status = 'pending' RETURNING id
                ), cancelled AS (
                    UPDATE platform.campaign_recipients AS r SET status = 'suppressed', suppression = $3, decided_at = $2
                    FROM batches AS b WHERE r.batch_id = b.id AND r.status = 'targeted'
                    RETURNING 1
                )
                SELECT count(*)::int8 FROM cancelled
                """, [id, now, CampaignSuppression.cancelled.rawValue]
            ).scalar(Int64.self)
            let messages = try connection.execute(
                """
                UPDATE platform.notifications SET status = 'suppressed', failure_reason = 'campaign cancelled'
                WHERE status = 'pending' AND dedupe_key IN (
                    SELECT \(SendCampaignBatch.dedupeKey("r")) FROM platform.campaign_recipients AS r
                    WHERE r.campaign_id = $1 AND r.status = 'queued')
                """, [id])
            _ = try connection.cancelWaitingJobs(tagged: tag(id), reason: "campaign \(id) cancelled")
            return (Int(recipients), messages)
        }
    }

    /// One campaign as the desk reads it.
    public struct Campaign: Sendable {
        public var id: Int64
        public var name: String
        public var status: CampaignStatus
        public var segment: CampaignSegment
        public var templateCode: String
        public var startsAt: Date
        public var endsAt: Date
        public var batchSize: Int
        public var attributionDays: Int
        public var createdAt: Date
        public var launchedAt: Date?
    }

    static let select = """
        SELECT id, name, status, segment::text, template_code, starts_at, ends_at, batch_size, attribution_days,
               created_at, launched_at
        FROM platform.campaigns
        """

    static func campaign(_ row: PostgresRow) throws -> Campaign {
        let (id, name, status, segment, template, starts, ends) = try row.decode((Int64, String, String, String, String, Date, Date).self)
        return Campaign(
            id: id, name: name, status: CampaignStatus(rawValue: status)!, segment: try CampaignSegment(json: segment),
            templateCode: template, startsAt: starts, endsAt: ends, batchSize: Int(try row.decode(7, as: Int32.self)),
            attributionDays: Int(try row.decode(8, as: Int32.self)), createdAt: try row.decode(9, as: Date.self),
            launchedAt: try row.decode(10, as: Date?.self))
    }

    static func load(_ id: Int64, on connection: PostgresConnection) throws -> Campaign {
        guard let row = try connection.query(select + " WHERE id = $1", [id]).first else {
            throw Refusal(description: "campaign \(id) does not exist; see `jobsctl campaigns list`")
        }
        return try campaign(row)
    }

    /// The newest campaign of this name, if any.
    public static func id(named name: String, on connection: PostgresConnection) throws -> Int64? {
        try connection.query(
            "SELECT id FROM platform.campaigns WHERE name = $1 ORDER BY id DESC LIMIT 1", [name]
        ).first?.decode(0, as: Int64.self)
    }

    /// Campaigns, newest first.
    public static func list(limit: Int, on connection: PostgresConnection) throws -> [Campaign] {
        try connection.query(select + " ORDER BY id DESC LIMIT $1", [Int64(limit)]).rows.map(campaign)
    }
}
