import BenchSupport
import Foundation
import PostgresClient
import SeededRandom

/// Cleaners a phase loads for itself: binary COPY of the rows, then set-based
/// statements for what dispatch and recommendations read — a certification (from a
/// passed onboarding exam) per skill, weekly working hours, and a second service
/// area for every fifth cleaner. Phone numbers carry the phase's digit and the run,
/// so a run's cleaners are told apart from anyone else's.
struct BenchCleaners: Sendable {
    /// One cleaner to load: home (centre of the service area), radius, skills.
    struct Cleaner: Sendable {
        var latitude: Double
        var longitude: Double
        var radiusKm: Double
        var skills: [String]
    }

    /// Ids in load order.
    let ids: [Int64]

    /// `phoneDigit` keeps phases apart ("8" dispatch, "7" recommendations); `workingHours`
    /// false leaves them without hours, so dispatch never offers them anything.
    static func load(
        _ cleaners: [Cleaner], phoneDigit: String, run: Int64, workingHours: Bool, now: Date, pool: PostgresPool
    ) async throws -> BenchCleaners {
        let prefix = phoneDigit + String(format: "%06lld", run % 1_000_000)
        let loaded = try await pool.withConnection { connection in
            try connection.copyFrom(
                table: "platform.cleaners", columns: ["phone", "name", "skills", "latitude", "longitude", "radius_km"]
            ) { writer in
                for (index, cleaner) in cleaners.enumerated() {
                    try writer.append([
                        prefix + String(format: "%08d", index), "压测保洁师\(index)", cleaner.skills, cleaner.latitude,
                        cleaner.longitude, cleaner.radiusKm,
                    ])
                }
            }
        }
        guard loaded == cleaners.count else { throw BenchFailure("COPY loaded \(loaded) cleaners, expected \(cleaners.count)") }
        let ids = try await pool.query(
            "SELECT id FROM platform.cleaners WHERE phone >= $1 AND phone < $2 ORDER BY phone", [prefix, prefix + ":"]
        ).rows.map { try $0.decode(0, as: Int64.self) }
        guard ids.count == cleaners.count else {
            throw BenchFailure("loaded \(cleaners.count) cleaners but found \(ids.count) with the run's phone prefix")
        }
        let (first, last) = (ids.min() ?? 0, ids.max() ?? 0)
        try await pool.withTransaction { connection in
            // One onboarding exam per skill for the run, passed 30 days ago, valid a year.
            try connection.execute(
                """
                WITH exams AS (
                    INSERT INTO platform.exams (skill, title, pass_mark)
                    SELECT skill, 'platform-bench ' || $3::text || ' ' || skill, 0
                    FROM (SELECT DISTINCT unnest(skills) AS skill FROM platform.cleaners WHERE id BETWEEN $1 AND $2) AS s
                    RETURNING id, skill
                ), onboarding AS (
                    INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers, status, score, passed, submitted_at, graded_at)
                    SELECT e.id, c.id, '{}', 'graded', 30, true, $4::timestamptz - interval '30 days',
                           $4::timestamptz - interval '30 days'
                    FROM platform.cleaners AS c JOIN exams AS e ON e.skill = ANY (c.skills)
                    WHERE c.id BETWEEN $1 AND $2
                    RETURNING id, exam_id, cleaner_id, graded_at
                )
                INSERT INTO platform.certifications (cleaner_id, skill, submission_id, granted_at, expires_at)
                SELECT o.cleaner_id, e.skill, o.id, o.graded_at, o.graded_at + interval '1 year'
                FROM onboarding AS o JOIN exams AS e ON e.id = o.exam_id
                """, [first, last, "\(run)", now])
            if workingHours {
                try connection.execute(
                    """
                    INSERT INTO platform.cleaner_working_hours (cleaner_id, iso_weekday, starts_at, ends_at)
                    SELECT c.id, day, time '08:00', time '20:00'
                    FROM platform.cleaners AS c CROSS JOIN generate_series(1, 7) AS day WHERE c.id BETWEEN $1 AND $2
                    """, [first, last])
            }
            // A second area 5 km north of home, radius 5 km.
            try connection.execute(
                """
                INSERT INTO platform.cleaner_service_areas (cleaner_id, latitude, longitude, radius_km)
                SELECT id, latitude + 5 / 111.195, longitude, 5 FROM platform.cleaners
                WHERE id BETWEEN $1 AND $2 AND id % 5 = 0 AND latitude + 5 / 111.195 <= 90
                """, [first, last])
        }
        return BenchCleaners(ids: ids)
    }

    /// A point uniformly spread over the disc of `radiusKm` around a centre
    /// (kilometres turned into degrees on the 6371 km sphere).
    static func point(
        around latitude: Double, _ longitude: Double, withinKm radiusKm: Double, using random: inout SeededRandom
    ) -> (latitude: Double, longitude: Double) {
        let distance = radiusKm * Double.random(in: 0...1, using: &random).squareRoot()
        let bearing = Double.random(in: 0..<(2 * Double.pi), using: &random)
        let kmPerDegree = 111.195
        return (
            latitude + distance * cos(bearing) / kmPerDegree,
            longitude + distance * sin(bearing) / (kmPerDegree * cos(latitude * Double.pi / 180))
        )
    }
}
