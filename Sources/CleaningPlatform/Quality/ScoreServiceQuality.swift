import Foundation
public import JobQueue
import PostgresClient

/// The weekly service-quality run: every active cleaner gets a score for an ISO
/// week from the trailing window of ratings, upheld complaints, late starts,
/// dispatch offers declined or left to expire and accepted orders the cleaner
/// cancelled (rules as rows, `platform.quality_rules`), and the thresholds decide a reward,
/// a warning, a fine or a suspension. One set-based statement records each
/// decision with its inputs and the rules used, suspends, and queues the
/// cleaners' messages; the decision's bonus or fine is paid or deducted by the
/// payout run of the week it was decided in (`PayoutCalculation`), through the
/// ledger. A decision is unique per cleaner and week, so a second run of the same
/// week — a retried job, a re-run from the CLI — decides, suspends and tells
/// nobody again.
public struct ScoreServiceQuality: JobArguments {
    public static let kind = "quality.score"
    /// The ISO week to score ("2026-W47"); nil: the week before the one the job runs in.
    public var period: String?

    public init(period: String? = nil) {
        self.period = period
    }

    public func validate() throws(JobArgumentsError) {
        if let period, (try? PayoutPeriod(period, timeZone: BusinessCalendar.default.timeZone)) == nil {
            throw JobArgumentsError("period \"\(period)\" is not an ISO week like 2026-W47")
        }
    }

    /// `$1` the week's name, `$2` its end, `$3` the business time zone, `$4` now.
    /// The window is the `window_days` business days before the week's end.
    static let decide = """
        WITH rules AS (
            SELECT jsonb_object_agg(code, value) AS json,
                   max(value) FILTER (WHERE code = 'window_days') AS window_days,
                   max(value) FILTER (WHERE code = 'default_rating_score') AS default_rating_score,
                   max(value) FILTER (WHERE code = 'upheld_complaint_points') AS complaint_points,
                   max(value) FILTER (WHERE code = 'late_start_points') AS late_points,
                   max(value) FILTER (WHERE code = 'late_start_grace_minutes') AS grace_minutes,
                   max(value) FILTER (WHERE code = 'unanswered_offer_points') AS offer_points,
                   max(value) FILTER (WHERE code = 'cleaner_cancellation_points') AS cancellation_points,
                   max(value) FILTER (WHERE code = 'reward_min_score') AS reward_min_score,
                   max(value) FILTER (WHERE code = 'reward_min_orders') AS reward_min_orders,
                   max(value) FILTER (WHERE code = 'reward_bonus_fen') AS reward_bonus_fen,
                   max(value) FILTER (WHERE code = 'warning_below') AS warning_below,
                   max(value) FILTER (WHERE code = 'fine_below') AS fine_below,
                   max(value) FILTER (WHERE code = 'fine_fen') AS fine_fen,
                   max(value) FILTER (WHERE code = 'suspend_below') AS suspend_below,
                   max(value) FILTER (WHERE code = 'suspension_days') AS suspension_days
            FROM platform.quality_rules
        ), span AS (
            SELECT (($2::timestamptz AT TIME ZONE $3) - r.window_days * interval '1 day') AT TIME ZONE $3 AS start,
                   $2::timestamptz AS finish
            FROM rules AS r
        ), ratings AS (
            SELECT o.cleaner_id, count(*) AS reviews, avg(v.rating) AS average
            FROM platform.reviews AS v CROSS JOIN span AS s
            CROSS JOIN LATERAL (
                SELECT o.cleaner_id FROM platform.orders AS o WHERE o.id = v.order_id AND o.cleaner_id IS NOT NULL OFFSET 0
            ) AS o
            WHERE v.created_at >= s.start AND v.created_at < s.finish
            GROUP BY o.cleaner_id
        ), completed AS (
            SELECT o.cleaner_id, count(*) AS orders,
                   count(*) FILTER (WHERE o.started_at > o.appointment_start + r.grace_minutes * interval '1 minute') AS late
            FROM platform.orders AS o CROSS JOIN span AS s CROSS JOIN rules AS r
            WHERE o.status = '已完成' AND o.completed_at >= s.start AND o.completed_at < s.finish
            GROUP BY o.cleaner_id
        ), upheld AS (
            SELECT o.cleaner_id, count(*) AS complaints
            FROM platform.complaints AS k CROSS JOIN span AS s
            CROSS JOIN LATERAL (
                SELECT o.cleaner_id FROM platform.orders AS o WHERE o.id = k.order_id AND o.cleaner_id IS NOT NULL OFFSET 0
            ) AS o
            WHERE k.outcome = 'upheld' AND k.resolved_at >= s.start AND k.resolved_at < s.finish
            GROUP BY o.cleaner_id
        ), unanswered AS (
            SELECT f.cleaner_id, count(*) AS offers
            FROM platform.dispatch_offers AS f CROSS JOIN span AS s
            WHERE f.status IN ('declined', 'expired') AND f.answered_at >= s.start AND f.answered_at < s.finish
            GROUP BY f.cleaner_id
        ), withdrawn AS (
            SELECT k.cleaner_id, count(*) AS cancellations
            FROM platform.cleaner_cancellations AS k CROSS JOIN span AS s
            WHERE k.cancelled_at >= s.start AND k.cancelled_at < s.finish
            GROUP BY k.cleaner_id
        ), scored AS (
            SELECT c.id AS cleaner_id, c.phone, c.time_zone,
                   COALESCE(a.reviews, 0) AS reviews, round(a.average, 2) AS average,
                   COALESCE(d.orders, 0) AS orders, COALESCE(d.late, 0) AS late, COALESCE(u.complaints, 0) AS complaints,
                   COALESCE(f.offers, 0) AS offers, COALESCE(w.cancellations, 0) AS cancellations,
                   GREATEST(0, LEAST(100,
                       COALESCE(round(a.average * 20), r.default_rating_score)
                       - COALESCE(u.complaints, 0) * r.complaint_points - COALESCE(d.late, 0) * r.late_points
                       - COALESCE(f.offers, 0) * r.offer_points
                       - COALESCE(w.cancellations, 0) * r.cancellation_points))::int4 AS score
            FROM platform.cleaners AS c CROSS JOIN rules AS r
            LEFT JOIN ratings AS a ON a.cleaner_id = c.id
            LEFT JOIN completed AS d ON d.cleaner_id = c.id
            LEFT JOIN upheld AS u ON u.cleaner_id = c.id
            LEFT JOIN unanswered AS f ON f.cleaner_id = c.id
            LEFT JOIN withdrawn AS w ON w.cleaner_id = c.id
            WHERE c.status = '\(CleanerStatus.active)'
        ), decided AS (
            SELECT x.*, o.outcome,
                   CASE WHEN o.outcome = 'reward' THEN r.reward_bonus_fen ELSE 0 END AS bonus_fen,
                   CASE WHEN o.outcome IN ('fine', 'suspension') THEN r.fine_fen ELSE 0 END AS fine_fen,
                   jsonb_build_object('window_start', s.start, 'window_end', s.finish, 'reviews', x.reviews,
                                      'average_rating', x.average, 'completed_orders', x.orders, 'late_starts', x.late,
                                      'upheld_complaints', x.complaints, 'unanswered_offers', x.offers,
                                      'cleaner_cancellations', x.cancellations,
                                      'rules', r.json) AS inputs
            FROM scored AS x CROSS JOIN rules AS r CROSS JOIN span AS s
            CROSS JOIN LATERAL (SELECT CASE
                WHEN x.score < r.suspend_below THEN 'suspension'
                WHEN x.score < r.fine_below THEN 'fine'
                WHEN x.score < r.warning_below THEN 'warning'
                WHEN x.score >= r.reward_min_score AND x.orders >= r.reward_min_orders THEN 'reward'
                ELSE 'none' END AS outcome) AS o
        ), recorded AS (
            INSERT INTO platform.quality_decisions (cleaner_id, period, score, outcome, bonus_fen, fine_fen, inputs, decided_at)
            SELECT cleaner_id, $1, score, outcome, bonus_fen, fine_fen, inputs, $4 FROM decided
            ON CONFLICT (cleaner_id, period) DO NOTHING
            RETURNING id, cleaner_id, outcome
        ), suspended AS (
            UPDATE platform.cleaners AS c SET status = '\(CleanerStatus.suspended)'
            FROM recorded AS d WHERE d.outcome = 'suspension' AND c.id = d.cleaner_id AND c.status = '\(CleanerStatus.active)'
            RETURNING c.id
        ), suspensions AS (
            INSERT INTO platform.cleaner_suspensions (cleaner_id, decision_id, suspended_at, suspended_until)
            SELECT d.cleaner_id, d.id, $4,
                   (($4::timestamptz AT TIME ZONE $3) + r.suspension_days * interval '1 day') AT TIME ZONE $3
            FROM recorded AS d CROSS JOIN rules AS r WHERE d.outcome = 'suspension'
            RETURNING cleaner_id, suspended_until
        ), notified AS (
            \(NotificationOutbox.insertSelect(
                """
                (SELECT 'quality_' || CASE d.outcome WHEN 'suspension' THEN 'suspended' ELSE d.outcome END,
                        jsonb_strip_nulls(jsonb_build_object(
                            'score', x.score::text, 'bonus', to_char(x.bonus_fen / 100.0, 'FM999999990.00'),
                            'fine', to_char(x.fine_fen / 100.0, 'FM999999990.00'),
                            'until', to_char(s.suspended_until AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'))),
                        x.phone, x.time_zone, 'quality:' || d.id
                 FROM recorded AS d JOIN decided AS x ON x.cleaner_id = d.cleaner_id
                 LEFT JOIN suspensions AS s ON s.cleaner_id = d.cleaner_id
                 WHERE d.outcome <> 'none')
                """, now: "$4"))
        )
        SELECT (SELECT count(*) FROM recorded)::int8, n.id FROM (SELECT 1) AS one LEFT JOIN notified AS n ON true
        """

    /// Decides the week in the caller's transaction; returns how many decisions were new.
    static func decide(
        _ week: PayoutPeriod, now: Date, timeZone: TimeZone, on connection: PostgresConnection
    ) throws -> Int {
        // The sums of every cleaner's window fit in memory instead of spilling to disk.
        try connection.executeScript("SET LOCAL work_mem = '128MB'")
        let rows = try connection.query(decide, [week.name, week.end, timeZone.identifier, now]).rows
        try NotificationOutbox.enqueueDispatch(try rows.compactMap { try $0.decode(1, as: Int64?.self) }, on: connection)
        return Int(try rows.first?.decode(0, as: Int64.self) ?? 0)
    }

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let zone = services.timeZone
        let week = try period.map { try PayoutPeriod($0, timeZone: zone) } ?? PayoutPeriod.previous(to: now, timeZone: zone)
        let decided = try await context.completeInTransaction { connection in
            try Self.decide(week, now: now, timeZone: zone, on: connection)
        }
        services.log.info("service quality scored", [("period", week.name), ("decisions", "\(decided)")])
    }
}
