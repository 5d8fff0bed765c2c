public import Foundation
import JobQueue
public import PostgresClient

/// What the platform did since a moment: the demo's closing summary, and what
/// operators check after a batch run.
public struct PlatformSummary: Sendable, Codable, Equatable {
    public struct KindCount: Sendable, Codable, Equatable {
        public var kind: String
        public var completed: Int
        public var failed: Int
    }

    public struct ReasonCount: Sendable, Codable, Equatable {
        public var status: String
        public var reason: String
        public var count: Int
    }

    public var jobs: [KindCount]
    public var notifications: [ReasonCount]
    public var tierChanges: Int
    public var couponsExpired: Int
    public var couponRemindersQueued: Int
    public var pointsExpiredCustomers: Int
    public var certificationsGranted: Int
    public var submissionsGraded: Int
    public var submissionsRejected: Int
    public var dispatch: DispatchCounts
    /// Service-quality decisions made, by outcome (reward, warning, fine, suspension; not none).
    public var qualityDecisions: [String: Int]
    public var suspensionsEnded: Int
    /// Missed complaint deadlines escalated (operator and supervisor each count).
    public var complaintEscalations: Int
    /// Campaigns launched since the moment, as their reports stand now.
    public var campaigns: [CampaignCounts]

    /// Dispatches started since the moment, as they stand now.
    public struct DispatchCounts: Sendable, Codable, Equatable {
        public var started: Int
        /// Assigned through an accepted offer.
        public var matched: Int
        /// Offering rounds per matched order, on average (0 when none matched).
        public var averageRounds: Double
        /// Escalated at some point (operations told).
        public var escalated: Int
        /// Given up on: the order was cancelled before its appointment.
        public var cancelled: Int
        /// From the start of dispatch to the accepted offer, median (nil when none matched).
        public var medianSecondsToAssignment: Double?
    }

    /// A campaign's report in brief.
    public struct CampaignCounts: Sendable, Codable, Equatable {
        public var id: Int64
        public var targeted: Int
        public var sent: Int
        public var suppressed: Int
        public var waiting: Int
        /// The whole report in one line (`CampaignReport.line`).
        public var line: String
    }

    public static func since(_ start: Date, on connection: PostgresConnection) throws -> PlatformSummary {
        let jobs = try JobAdministration.finishedCounts(since: start, on: connection).map {
            KindCount(kind: $0.kind, completed: $0.completed, failed: $0.discarded)
        }
        // Reasons are grouped by their first words ("flow control", "expired" …).
        let notifications = try connection.query(
            """
            SELECT status, COALESCE(split_part(failure_reason, ':', 1), ''), count(*)::int8
            FROM platform.notifications WHERE created_at >= $1 AND status <> 'pending'
            GROUP BY 1, 2 ORDER BY 1, 2
            """, [start]
        ).rows.map { row in
            let (status, reason, count) = try row.decode((String, String, Int64).self)
            return ReasonCount(status: status, reason: reason, count: Int(count))
        }
        let counts = try connection.query(
            """
            SELECT (SELECT count(*) FROM platform.tier_changes WHERE created_at >= $1)::int8,
                   (SELECT count(*) FROM platform.coupons WHERE expired_at >= $1)::int8,
                   (SELECT count(*) FROM platform.notifications WHERE template_code = 'coupon_expiring' AND created_at >= $1)::int8,
                   (SELECT count(*) FROM platform.points_ledger WHERE reason = 'expired' AND created_at >= $1)::int8,
                   (SELECT count(*) FROM platform.certifications WHERE granted_at >= $1)::int8,
                   (SELECT count(*) FROM platform.exam_submissions WHERE graded_at >= $1)::int8,
                   (SELECT count(*) FROM platform.exam_submissions WHERE status = 'rejected' AND submitted_at >= $1)::int8
            """, [start]
        ).first!.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
        let dispatch = try connection.query(
            """
            SELECT count(*)::int8,
                   count(*) FILTER (WHERE d.status = 'assigned' AND EXISTS (SELECT 1 FROM platform.dispatch_offers AS f WHERE f.order_id = d.order_id AND f.generation = d.generation AND f.status = 'accepted'))::int8,
                   COALESCE(avg(d.round) FILTER (WHERE d.status = 'assigned' AND EXISTS (SELECT 1 FROM platform.dispatch_offers AS f WHERE f.order_id = d.order_id AND f.generation = d.generation AND f.status = 'accepted')), 0)::float8,
                   count(*) FILTER (WHERE d.escalated_at IS NOT NULL)::int8,
                   count(*) FILTER (WHERE d.status = 'stopped' AND o.status = '已取消' AND o.cancelled_at = d.ended_at)::int8,
                   (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.ended_at - d.started_at))
                       FILTER (WHERE d.status = 'assigned' AND EXISTS (SELECT 1 FROM platform.dispatch_offers AS f WHERE f.order_id = d.order_id AND f.generation = d.generation AND f.status = 'accepted')))::float8
            FROM platform.order_dispatches AS d JOIN platform.orders AS o ON o.id = d.order_id
            WHERE d.started_at >= $1
            """, [start]
        ).first!.decode((Int64, Int64, Double, Int64, Int64, Double?).self)
        let quality = Dictionary(uniqueKeysWithValues: try connection.query(
            """
            SELECT outcome, count(*)::int8 FROM platform.quality_decisions
            WHERE decided_at >= $1 AND outcome <> $2 GROUP BY outcome
            """, [start, QualityOutcome.none.rawValue]
        ).rows.map { row in
            let (outcome, count) = try row.decode((String, Int64).self)
            return (outcome, Int(count))
        })
        let (ended, escalations) = try connection.query(
            """
            SELECT (SELECT count(*) FROM platform.cleaner_suspensions WHERE reinstated_at >= $1)::int8,
                   (SELECT count(*) FROM platform.complaint_escalations WHERE escalated_at >= $1)::int8
            """, [start]
        ).first!.decode((Int64, Int64).self)
        let campaigns = try connection.query(
            "SELECT id FROM platform.campaigns WHERE launched_at >= $1 ORDER BY id", [start]
        ).rows.map { row in
            let report = try CampaignReport.of(try row.decode(0, as: Int64.self), on: connection)
            return CampaignCounts(
                id: report.campaignID, targeted: report.targeted, sent: report.sent, suppressed: report.suppressedTotal,
                waiting: report.waiting, line: report.line)
        }
        return PlatformSummary(
            jobs: jobs, notifications: notifications, tierChanges: Int(counts.0), couponsExpired: Int(counts.1),
            couponRemindersQueued: Int(counts.2), pointsExpiredCustomers: Int(counts.3),
            certificationsGranted: Int(counts.4), submissionsGraded: Int(counts.5), submissionsRejected: Int(counts.6),
            dispatch: DispatchCounts(
                started: Int(dispatch.0), matched: Int(dispatch.1), averageRounds: dispatch.2, escalated: Int(dispatch.3),
                cancelled: Int(dispatch.4), medianSecondsToAssignment: dispatch.5),
            qualityDecisions: quality, suspensionsEnded: Int(ended), complaintEscalations: Int(escalations),
            campaigns: campaigns)
    }
}
