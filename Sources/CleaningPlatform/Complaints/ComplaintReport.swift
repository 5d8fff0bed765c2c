public import Foundation
public import PostgresClient

/// What the back office reads about complaints: the open ones with their SLA
/// state, the open ones by age, and missed deadlines per ISO week of the business
/// time zone. A deadline is missed when it passed before the step was done (or it
/// is still not done).
public enum ComplaintReport {
    /// An open complaint's standing against its deadlines.
    public enum SLAState: String, Sendable, CaseIterable {
        /// No deadline missed so far.
        case within
        /// A deadline was missed (acknowledged late, or not acknowledged or resolved by its time).
        case breached
        /// Filed before deadlines existed.
        case untracked
    }

    public struct OpenComplaint: Sendable {
        public var id: Int64
        public var orderID: Int64
        public var severity: String
        public var status: String
        public var filedAt: Date
        public var acknowledgeDueAt: Date?
        public var resolveDueAt: Date?
        public var sla: SLAState
        public var escalations: Int
    }

    /// `$1` now.
    static let slaState = """
        CASE WHEN k.resolve_due_at IS NULL THEN 'untracked'
             WHEN k.resolve_due_at < $1 OR k.acknowledge_due_at < COALESCE(k.acknowledged_at, $1) THEN 'breached'
             ELSE 'within' END
        """

    /// Open complaints (not yet upheld or rejected), oldest first, optionally of one SLA state.
    public static func open(
        sla: SLAState?, now: Date, limit: Int, on connection: PostgresConnection
    ) throws -> [OpenComplaint] {
        try connection.query(
            """
            SELECT * FROM (
                SELECT k.id, k.order_id, k.severity, k.status, k.created_at, k.acknowledge_due_at, k.resolve_due_at,
                       \(slaState) AS sla,
                       (SELECT count(*) FROM platform.complaint_escalations AS e WHERE e.complaint_id = k.id)::int8
                FROM platform.complaints AS k WHERE k.outcome IS NULL
            ) AS o
            WHERE $2::text IS NULL OR o.sla = $2
            ORDER BY o.created_at, o.id LIMIT $3
            """, [now, sla?.rawValue, Int64(limit)]
        ).rows.map { row in
            let (id, order, severity, status, filed, ackDue, resolveDue, sla, escalations) =
                try row.decode((Int64, Int64, String, String, Date, Date?, Date?, String, Int64).self)
            return OpenComplaint(
                id: id, orderID: order, severity: severity, status: status, filedAt: filed, acknowledgeDueAt: ackDue,
                resolveDueAt: resolveDue, sla: SLAState(rawValue: sla)!, escalations: Int(escalations))
        }
    }

    /// Open complaints by how long ago they were filed.
    public struct AgeBucket: Sendable, Equatable {
        public var age: String
        public var open: Int
        public var breached: Int
    }

    /// The age buckets, youngest first; each is `[lower, upper)` hours.
    static let ageBuckets: [(label: String, lower: Int, upper: Int?)] = [
        ("under 2 h", 0, 2), ("2–24 h", 2, 24), ("1–3 days", 24, 72), ("3–7 days", 72, 168), ("over 7 days", 168, nil),
    ]

    public static func openByAge(now: Date, on connection: PostgresConnection) throws -> [AgeBucket] {
        let counts = try connection.query(
            """
            SELECT width_bucket(extract(epoch FROM $1 - k.created_at) / 3600, $2::float8[]) AS bucket,
                   count(*)::int8, count(*) FILTER (WHERE \(slaState) = 'breached')::int8
            FROM platform.complaints AS k WHERE k.outcome IS NULL
            GROUP BY 1
            """, [now, ageBuckets.dropFirst().map { Double($0.lower) }]
        ).rows.map { try $0.decode((Int32, Int64, Int64).self) }
        return ageBuckets.enumerated().map { index, bucket in
            let row = counts.first { Int($0.0) == index }
            return AgeBucket(age: bucket.label, open: Int(row?.1 ?? 0), breached: Int(row?.2 ?? 0))
        }
    }

    /// Missed deadlines of one ISO week (business time zone), by the deadline's week.
    public struct WeeklyBreaches: Sendable, Equatable {
        public var week: String
        public var acknowledge: Int
        public var resolve: Int
        public var escalations: Int
    }

    /// Weeks with a missed deadline due in `[since, now]`, oldest first.
    public static func breachesPerWeek(
        since: Date, now: Date, timeZone: TimeZone, on connection: PostgresConnection
    ) throws -> [WeeklyBreaches] {
        try connection.query(
            """
            WITH missed AS (
                SELECT to_char(d.due AT TIME ZONE $3, 'IYYY-"W"IW') AS week, d.deadline
                FROM platform.complaints AS k
                CROSS JOIN LATERAL (VALUES ('acknowledge', k.acknowledge_due_at, k.acknowledged_at),
                                           ('resolve', k.resolve_due_at, k.resolved_at)) AS d(deadline, due, done)
                WHERE d.due >= $1 AND d.due <= $2 AND (d.done IS NULL OR d.done > d.due)
            ), told AS (
                SELECT to_char(e.due_at AT TIME ZONE $3, 'IYYY-"W"IW') AS week, count(*) AS escalations
                FROM platform.complaint_escalations AS e WHERE e.due_at >= $1 AND e.due_at <= $2 GROUP BY 1
            )
            SELECT m.week, count(*) FILTER (WHERE m.deadline = 'acknowledge')::int8,
                   count(*) FILTER (WHERE m.deadline = 'resolve')::int8, COALESCE(max(t.escalations), 0)::int8
            FROM missed AS m LEFT JOIN told AS t ON t.week = m.week
            GROUP BY m.week ORDER BY m.week
            """, [since, now, timeZone.identifier]
        ).rows.map { row in
            let (week, acknowledge, resolve, escalations) = try row.decode((String, Int64, Int64, Int64).self)
            return WeeklyBreaches(week: week, acknowledge: Int(acknowledge), resolve: Int(resolve), escalations: Int(escalations))
        }
    }
}
