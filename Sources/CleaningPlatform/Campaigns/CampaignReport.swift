import Foundation
public import PostgresClient

/// What became of a campaign: customers targeted, recipients still waiting for
/// their batch, suppressed (with the reason) or queued; of the queued messages,
/// how many the outbox sent, holds, or did not send (with the outbox's reason);
/// coupons granted and redeemed (on an order not cancelled); and orders the
/// recipients placed within the campaign's attribution days of their message.
public struct CampaignReport: Sendable, Equatable {
    public var campaignID: Int64
    public var name: String
    public var status: CampaignStatus
    public var batches: Int
    public var batchesPending: Int
    public var targeted: Int
    /// Recipients whose batch has not run yet.
    public var waiting: Int
    public var queued: Int
    /// Recipients suppressed before queueing, by reason.
    public var suppressed: [CampaignSuppression: Int]
    public var sent: Int
    /// Queued messages the outbox has not settled yet.
    public var unsent: Int
    /// Queued messages the outbox did not send, by the first clause of its reason
    /// (expired, quiet hours, flow control, provider rejected it, campaign cancelled).
    public var notSent: [String: Int]
    public var couponsGranted: Int
    public var couponsRedeemed: Int
    public var attributionDays: Int
    public var ordersPlaced: Int
    public var orderingCustomers: Int

    public var suppressedTotal: Int { suppressed.values.reduce(0, +) }

    /// The report line the demo's summary shows.
    public var line: String {
        let reasons = CampaignSuppression.allCases.compactMap { reason in
            suppressed[reason].map { "\(reason.rawValue) \($0)" }
        }
        let outbox = notSent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return "campaign \(campaignID) \"\(name)\" (\(status.rawValue)): targeted \(targeted), sent \(sent), "
            + "suppressed \(suppressedTotal)\(reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"), "
            + "unsent \(unsent)\(outbox.isEmpty ? "" : ", not sent by the outbox \(outbox.joined(separator: ", "))"), "
            + "waiting \(waiting); coupons granted \(couponsGranted), redeemed \(couponsRedeemed); "
            + "orders within \(attributionDays) days \(ordersPlaced) from \(orderingCustomers) customers"
    }

    static let recipients = """
        SELECT count(*)::int8, count(*) FILTER (WHERE status = 'targeted')::int8, count(*) FILTER (WHERE status = 'queued')::int8,
               count(coupon_id)::int8
        FROM platform.campaign_recipients WHERE campaign_id = $1
        """

    static let suppressions = """
        SELECT suppression, count(*)::int8 FROM platform.campaign_recipients
        WHERE campaign_id = $1 AND status = 'suppressed' GROUP BY suppression
        """

    static let batchCounts = """
        SELECT count(*)::int8, count(*) FILTER (WHERE status = 'pending')::int8
        FROM platform.campaign_batches WHERE campaign_id = $1
        """

    /// The joins below read the campaign's recipients first (a MATERIALIZED CTE): on
    /// Citus the recipients are distributed and the outbox and orders are not, and a
    /// plain join would ship the whole outbox or orders table to the shards.
    static let messages = """
        WITH r AS MATERIALIZED (
            SELECT campaign_id, customer_id FROM platform.campaign_recipients WHERE campaign_id = $1 AND status = 'queued'
        )
        SELECT n.status, CASE WHEN n.status IN ('failed', 'suppressed') THEN split_part(n.failure_reason, ':', 1) END,
               count(*)::int8
        FROM r JOIN platform.notifications AS n ON n.dedupe_key = \(SendCampaignBatch.dedupeKey("r"))
        GROUP BY 1, 2
        """

    static let redeemed = """
        WITH r AS MATERIALIZED (
            SELECT coupon_id FROM platform.campaign_recipients WHERE campaign_id = $1 AND coupon_id IS NOT NULL
        )
        SELECT count(DISTINCT o.coupon_id)::int8
        FROM r JOIN platform.orders AS o ON o.coupon_id = r.coupon_id
        WHERE o.status <> '已取消'
        """

    /// `$2` the attribution days.
    static let orders = """
        WITH r AS MATERIALIZED (
            SELECT customer_id, decided_at FROM platform.campaign_recipients WHERE campaign_id = $1 AND status = 'queued'
        )
        SELECT count(*)::int8, count(DISTINCT r.customer_id)::int8
        FROM r JOIN platform.orders AS o ON o.customer_id = r.customer_id
            AND o.created_at >= r.decided_at AND o.created_at < r.decided_at + $2 * interval '1 day'
        """

    public static func of(_ id: Int64, on connection: PostgresConnection) throws -> CampaignReport {
        let campaign = try CampaignDesk.load(id, on: connection)
        let (targeted, waiting, queued, granted) = try connection.query(recipients, [id]).first!
            .decode((Int64, Int64, Int64, Int64).self)
        var suppressed: [CampaignSuppression: Int] = [:]
        for row in try connection.query(suppressions, [id]).rows {
            let (reason, count) = try row.decode((String, Int64).self)
            if let reason = CampaignSuppression(rawValue: reason) { suppressed[reason] = Int(count) }
        }
        let (batches, pending) = try connection.query(batchCounts, [id]).first!.decode((Int64, Int64).self)
        var (sent, unsent) = (0, 0)
        var notSent: [String: Int] = [:]
        for row in try connection.query(messages, [id]).rows {
            let (status, reason, count) = try row.decode((String, String?, Int64).self)
            switch status {
            case "sent": sent += Int(count)
            case "pending": unsent += Int(count)
            default: notSent[reason ?? status, default: 0] += Int(count)
            }
        }
        let redeemed = try connection.query(redeemed, [id]).scalar(Int64.self)
        let (ordersPlaced, ordering) = try connection.query(orders, [id, Int64(campaign.attributionDays)]).first!
            .decode((Int64, Int64).self)
        return CampaignReport(
            campaignID: id, name: campaign.name, status: campaign.status, batches: Int(batches), batchesPending: Int(pending),
            targeted: Int(targeted), waiting: Int(waiting), queued: Int(queued), suppressed: suppressed, sent: sent,
            unsent: unsent, notSent: notSent, couponsGranted: Int(granted), couponsRedeemed: Int(redeemed),
            attributionDays: campaign.attributionDays, ordersPlaced: Int(ordersPlaced), orderingCustomers: Int(ordering))
    }
}
