import Foundation
public import JobQueue
import PostgresClient

/// Nightly: per active customer (a booking in the last 180 days), up to five
/// recommended cleaners near their usual address (that of their latest booking),
/// certified now for a skill they book, whose area covers the address, never one
/// they rated ≤ 2. Ranked by their own rating of the cleaner, then closeness.
///
/// Set-based, in batches of customers by id, each batch its own transaction that
/// replaces the night's lists of its customers: a re-run of the same night (or a
/// retry after a crash) changes nothing. A customer is paired only with cleaners
/// whose home or service-area centre lies in a grid cell within reach of the
/// address's cell (migration 0021: `platform.grid_cell`, indexed, and
/// `platform.grid_cells_around`), and the great-circle distance decides on those.
public struct RecommendCleaners: JobArguments {
    public static let kind = "cleaner.recommend"
    public static let listLength = 5
    /// Customers per batch (one transaction each).
    public static let batchCustomers = 10_000
    public init() {}

    /// The last customer id of the batch after `$1`, or NULL when none is left.
    static let nextBatch = """
        SELECT max(id) FROM (SELECT id FROM platform.customers WHERE id > $1 ORDER BY id LIMIT $2) AS batch
        """

    static let replace = """
        DELETE FROM platform.cleaner_recommendations WHERE night = $1::date AND customer_id > $2 AND customer_id <= $3
        """

    /// The planner cannot size the cell series (generate_series over computed bounds:
    /// 1000 rows each by default), so its cost estimate is huge and PostgreSQL would
    /// JIT-compile the statement in every batch, which costs more than it saves.
    static let noJIT = "SET LOCAL jit = off"

    /// $1 night, $2 now, $3 list length, customers with ids in ($4, $5].
    static let compute = """
        WITH booked AS (
            SELECT o.customer_id, o.latitude, o.longitude, o.appointment_start, s.skill
            FROM platform.orders AS o
            JOIN platform.service_types AS s ON s.id = o.service_type_id
            WHERE o.customer_id > $4 AND o.customer_id <= $5
              AND o.status <> '已取消' AND o.appointment_start >= $2 - interval '180 days' AND o.appointment_start < $2
        ), home AS MATERIALIZED (
            SELECT l.customer_id, l.latitude, l.longitude, platform.grid_cell(l.latitude, l.longitude) AS cell, k.skills
            FROM (SELECT DISTINCT ON (customer_id) customer_id, latitude, longitude
                  FROM booked ORDER BY customer_id, appointment_start DESC) AS l
            JOIN (SELECT customer_id, array_agg(DISTINCT skill) AS skills FROM booked GROUP BY customer_id) AS k
                USING (customer_id)
        ), rated AS (
            SELECT o.customer_id, o.cleaner_id, avg(r.rating)::double precision AS mean_rating, min(r.rating) AS worst
            FROM platform.orders AS o JOIN platform.reviews AS r ON r.order_id = o.id
            WHERE o.customer_id > $4 AND o.customer_id <= $5 AND o.cleaner_id IS NOT NULL
            GROUP BY o.customer_id, o.cleaner_id
        ), reach AS (
            -- The largest radius in use: every covering area's centre is within it.
            SELECT (SELECT max(radius_km) FROM platform.cleaners WHERE status = 'active') AS home_km,
                   (SELECT max(radius_km) FROM platform.cleaner_service_areas) AS area_km
        ), home_cells AS (
            SELECT DISTINCT cell FROM home
        ), near_homes AS MATERIALIZED (
            -- Per cell of the batch's customers, once: cleaners living within reach of it.
            SELECT hc.cell, cl.id AS cleaner_id, cl.latitude, cl.longitude, cl.radius_km
            FROM home_cells AS hc CROSS JOIN reach
            CROSS JOIN LATERAL platform.grid_cells_around(hc.cell, reach.home_km) AS near(cell)
            JOIN platform.cleaners AS cl ON platform.grid_cell(cl.latitude, cl.longitude) = near.cell
            WHERE cl.status = 'active'
        ), near_areas AS MATERIALIZED (
            SELECT hc.cell, a.cleaner_id, a.latitude, a.longitude, a.radius_km
            FROM home_cells AS hc CROSS JOIN reach
            CROSS JOIN LATERAL platform.grid_cells_around(hc.cell, reach.area_km) AS near(cell)
            JOIN platform.cleaner_service_areas AS a ON platform.grid_cell(a.latitude, a.longitude) = near.cell
            JOIN platform.cleaners AS cl ON cl.id = a.cleaner_id
            WHERE cl.status = 'active'
        ), covering AS MATERIALIZED (
            -- The latitude difference alone (cheap) rules out most before the great circle.
            SELECT h.customer_id, n.cleaner_id
            FROM home AS h JOIN near_homes AS n ON n.cell = h.cell
            WHERE abs(n.latitude - h.latitude) * 111.195 <= n.radius_km + 0.001
              AND platform.great_circle_km(n.latitude, n.longitude, h.latitude, h.longitude) <= n.radius_km
            UNION
            SELECT h.customer_id, n.cleaner_id
            FROM home AS h JOIN near_areas AS n ON n.cell = h.cell
            WHERE abs(n.latitude - h.latitude) * 111.195 <= n.radius_km + 0.001
              AND platform.great_circle_km(n.latitude, n.longitude, h.latitude, h.longitude) <= n.radius_km
        ), scored AS (
            SELECT v.customer_id, v.cleaner_id, d.km, m.skills_matched, r.mean_rating,
                   COALESCE((r.mean_rating - 3) / 2, 0) + greatest(0.0, 1 - d.km / cl.radius_km) + m.skills_matched * 0.1
                       AS score
            FROM covering AS v
            JOIN home AS h ON h.customer_id = v.customer_id
            JOIN platform.cleaners AS cl ON cl.id = v.cleaner_id
            -- How many of the customer's booked skills the cleaner holds a valid certification for.
            CROSS JOIN LATERAL (
                SELECT count(*) AS skills_matched FROM platform.certifications AS c
                WHERE c.cleaner_id = v.cleaner_id AND c.skill = ANY (h.skills) AND c.granted_at <= $2 AND c.expires_at > $2
            ) AS m
            CROSS JOIN LATERAL (
                SELECT platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) AS km) AS d
            LEFT JOIN rated AS r ON r.customer_id = v.customer_id AND r.cleaner_id = v.cleaner_id
            WHERE m.skills_matched > 0 AND (r.worst IS NULL OR r.worst > 2)
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY score DESC, km, cleaner_id) AS rank
            FROM scored
        )
        INSERT INTO platform.cleaner_recommendations
            (night, customer_id, rank, cleaner_id, score, components, computed_at)
        SELECT $1::date, customer_id, rank, cleaner_id, score,
               jsonb_build_object('km', round(km::numeric, 2), 'customer_rating', mean_rating,
                                  'skills_matched', skills_matched),
               $2
        FROM ranked WHERE rank <= $3
        """

    func run(_ context: JobContext, services: PlatformServices) async throws {
        let now = services.clock.now
        let night = services.calendar.day(of: now)
        var after: Int64 = 0
        var rows = 0
        var batches = 0
        while let last = try await lastCustomer(after: after, context) {
            try Task.checkCancellation()
            let first = after
            rows += try await context.database.withTransaction { connection -> Int in
                _ = try connection.execute(Self.noJIT)
                _ = try connection.execute(Self.replace, [night, first, last])
                return try connection.execute(Self.compute, [night, now, Int64(Self.listLength), first, last])
            }
            after = last
            batches += 1
        }
        services.log.info(
            "cleaner recommendations", [("night", night), ("rows", "\(rows)"), ("batches", "\(batches)")])
    }

    private func lastCustomer(after id: Int64, _ context: JobContext) async throws -> Int64? {
        let row = try await context.database.query(Self.nextBatch, [id, Int64(Self.batchCustomers)]).first
        return try row?.decode(0, as: Int64?.self) ?? nil
    }
}
