import Foundation
public import JobQueue
import PostgresClient

/// Nightly: per active customer (a booking in the last 180 days), up to five
/// recommended cleaners near their usual address (that of their latest booking),
/// certified now for a skill they book, whose area covers the address, never one
/// they rated ≤ 2. Ranked by their own rating of the cleaner, then closeness.
/// One statement for all customers; the night's lists are replaced, so a re-run
/// of the same night changes nothing.
public struct RecommendCleaners: JobArguments {
    public static let kind = "cleaner.recommend"
    public static let listLength = 5
    public init() {}

    static let replace = "DELETE FROM platform.cleaner_recommendations WHERE night = $1::date"

    static let compute = """
        WITH booked AS (
            SELECT o.customer_id, o.cleaner_id, o.latitude, o.longitude, o.appointment_start, s.skill, r.rating
            FROM platform.orders AS o
            JOIN platform.service_types AS s ON s.id = o.service_type_id
            LEFT JOIN platform.reviews AS r ON r.order_id = o.id
            WHERE o.status <> '已取消' AND o.appointment_start >= $2 - interval '180 days' AND o.appointment_start < $2
        ), home AS (
            SELECT DISTINCT ON (customer_id) customer_id, latitude, longitude
            FROM booked ORDER BY customer_id, appointment_start DESC
        ), skills AS (
            SELECT DISTINCT customer_id, skill FROM booked
        ), rated AS (
            SELECT o.customer_id, o.cleaner_id, avg(r.rating)::double precision AS mean_rating, min(r.rating) AS worst
            FROM platform.orders AS o JOIN platform.reviews AS r ON r.order_id = o.id
            WHERE o.cleaner_id IS NOT NULL
            GROUP BY o.customer_id, o.cleaner_id
        ), candidates AS (
            SELECT h.customer_id, cl.id AS cleaner_id,
                   platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) AS km,
                   cl.radius_km,
                   (SELECT count(*) FROM skills AS k JOIN platform.certifications AS c
                        ON c.skill = k.skill AND c.cleaner_id = cl.id AND c.granted_at <= $2 AND c.expires_at > $2
                    WHERE k.customer_id = h.customer_id) AS skills_matched
            FROM home AS h JOIN platform.cleaners AS cl ON cl.status = 'active'
            WHERE (platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) <= cl.radius_km
                   OR EXISTS (
                    SELECT 1 FROM platform.cleaner_service_areas AS a
                    WHERE a.cleaner_id = cl.id
                      AND platform.great_circle_km(a.latitude, a.longitude, h.latitude, h.longitude) <= a.radius_km))
        ), scored AS (
            SELECT c.customer_id, c.cleaner_id, c.km, c.skills_matched, r.mean_rating,
                   COALESCE((r.mean_rating - 3) / 2, 0) + greatest(0.0, 1 - c.km / c.radius_km) + c.skills_matched * 0.1
                       AS score
            FROM candidates AS c
            LEFT JOIN rated AS r ON r.customer_id = c.customer_id AND r.cleaner_id = c.cleaner_id
            WHERE c.skills_matched > 0 AND (r.worst IS NULL OR r.worst > 2)
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
        let rows = try await context.database.withTransaction { connection -> Int in
            _ = try connection.execute(Self.replace, [night])
            return try connection.execute(Self.compute, [night, now, Self.listLength])
        }
        services.log.info("cleaner recommendations", [("night", night), ("rows", "\(rows)")])
    }
}
