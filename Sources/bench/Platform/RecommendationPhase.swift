import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient
import SeededRandom

/// Nightly cleaner recommendations (issue 17 point 6) for `--recommend-customers`
/// active customers: their booking history (one completed order each, every fourth
/// customer a second one of another service; a tenth reviewed) and
/// `--recommend-cleaners` cleaners spread over 20 cities, loaded with COPY and
/// set-based statements; then one `cleaner.recommend` job through a real JobWorker
/// on the maintenance queue, timed from the worker's start until the job completed.
/// Checks from the database: lists of at most five, every recommended cleaner's
/// area covers the customer's usual address, none the customer rated ≤ 2, and, for
/// a sample of customers, the same lists as the ranking without the grid prefilter.
struct RecommendationPhase {
    let options: PlatformOptions
    let pool: PostgresPool
    let dataset: Dataset
    let serverPID: Int32?

    static let cities = 20
    static let cityKm = 25.0
    static let sampleCustomers = 200

    struct Result: Sendable {
        var customers: Int
        var cleaners: Int
        var orders: Int
        var loading: Duration
        /// The one `cleaner.recommend` job's run: final state, wall and server CPU.
        var job: SingleJobRun.Outcome
        var customersWithList: Int
        var rows: Int
        var longestList: Int
        var outsideArea: Int
        var ratedTwoOrLess: Int
        var sampleCompared: Int
        var sampleDiffering: Int

        var verified: Bool {
            job.state == .completed && customersWithList > 0 && longestList <= RecommendCleaners.listLength
                && outsideArea == 0 && ratedTwoOrLess == 0 && sampleDiffering == 0
        }
    }

    /// City i's centre: a 4 × 5 grid 2° × 4° apart from 40° N 80° E, moved by the
    /// run so repeated runs on one database do not pile into the same places.
    private func centre(of city: Int) -> (latitude: Double, longitude: Double) {
        let shift = Double(dataset.run % 5) * 0.4
        return (40.0 + Double(city / 5) * 2 + shift, 80.0 + Double(city % 5) * 4 + shift)
    }

    func run() async throws -> Result {
        let clock = ContinuousClock()
        let now = Date()
        var random = SeededRandom(seed: UInt64(dataset.run) ^ 0x5EC0_3E4D)
        let started = clock.now

        Output.log("loading \(options.recommendCleaners) cleaners over \(Self.cities) cities …")
        let allSkills = ["daily_cleaning", "deep_cleaning", "windows"]
        let cleaners = (0..<options.recommendCleaners).map { index in
            let city = centre(of: index % Self.cities)
            let home = BenchCleaners.point(around: city.latitude, city.longitude, withinKm: Self.cityKm, using: &random)
            var skills = ["daily_cleaning"]
            if index % 3 == 0 { skills.append(allSkills[1]) }
            if index % 4 == 0 { skills.append(allSkills[2]) }
            return BenchCleaners.Cleaner(
                latitude: home.latitude, longitude: home.longitude, radiusKm: Double(5 + random.next() % 6),
                skills: skills)
        }
        let cleanerIDs = try await BenchCleaners.load(
            cleaners, phoneDigit: "7", run: dataset.run, workingHours: false, now: now, pool: pool
        ).ids

        let customers = Array(dataset.customerIDs.prefix(options.recommendCustomers))
        Output.log("loading the booking history of \(customers.count) customers (COPY), a tenth reviewed …")
        let perCity = max(1, cleanerIDs.count / Self.cities)
        let historySeed = random.next()
        let ordersBefore = try await pool.query("SELECT COALESCE(max(id), 0)::int8 FROM platform.orders").scalar(Int64.self)
        let orders = try await pool.withConnection { connection in
            try connection.copyFrom(
                table: "platform.orders",
                columns: [
                    "customer_id", "cleaner_id", "service_type_id", "address", "latitude", "longitude", "appointment_start",
                    "duration_minutes", "status", "amount_fen", "paid_fen", "created_at", "accepted_at", "started_at",
                    "completed_at",
                ]
            ) { writer in
                var random = SeededRandom(seed: historySeed)
                for (index, customer) in customers.enumerated() {
                    let cityIndex = index % Self.cities
                    let city = centre(of: cityIndex)
                    let home = BenchCleaners.point(around: city.latitude, city.longitude, withinKm: Self.cityKm, using: &random)
                    for serviceType in index % 4 == 0 ? [1, 2] : [1] {
                        let start = now.addingTimeInterval(-Double(86_400 + random.next() % (170 * 86_400)))
                        // A cleaner of the same city did it.
                        let cleaner = cleanerIDs[min(cleanerIDs.count - 1, cityIndex + Self.cities * Int(random.next() % UInt64(perCity)))]
                        try writer.append([
                            customer, cleaner, Int16(serviceType), "推荐路\(index)号", home.latitude, home.longitude, start,
                            Int32(180), OrderStatus.completed, Int64(15_000), Int64(15_000),
                            start.addingTimeInterval(-86_400), start.addingTimeInterval(-80_000), start,
                            start.addingTimeInterval(3 * 3600),
                        ])
                    }
                }
            }
        }
        let (firstCustomer, lastCustomer) = (customers.min() ?? 0, customers.max() ?? 0)
        _ = try await pool.withTransaction { connection in
            try connection.execute(
                """
                INSERT INTO platform.reviews (order_id, rating, created_at)
                SELECT id, (1 + id % 5)::int2, completed_at FROM platform.orders
                WHERE id > $1 AND customer_id BETWEEN $2 AND $3 AND status = $4 AND id % 10 = 0
                """, [ordersBefore, firstCustomer, lastCustomer, OrderStatus.completed])
        }
        let loading = clock.now - started
        Output.log("VACUUM (ANALYZE) of orders, reviews, cleaners, areas, certifications; CHECKPOINT (untimed) …")
        _ = try await pool.withConnection {
            try Settle.run([
                "VACUUM (ANALYZE) platform.orders, platform.reviews, platform.cleaners, platform.cleaner_service_areas, "
                    + "platform.certifications",
            ], on: $0)
        }

        let tally = LogTally(keeping: ["cleaner recommendations"])
        let services = PlatformServices(provider: InstantProvider(), log: tally.log(minimumLevel: .info))
        Output.log("recommending cleaners: one cleaner.recommend job, worker on queue maintenance …")
        let job = try await SingleJobRun(options: options, pool: pool, serverPID: serverPID).run(
            try JobRequest(RecommendCleaners(), queue: PlatformJobs.maintenanceQueue), name: "cleaner.recommend",
            workerName: "recommend", services: services, workerLog: tally.log(minimumLevel: .warning),
            pollEvery: .milliseconds(20), reportsProgress: true)

        let night = BusinessCalendar.default.day(of: now)
        let checks = try await pool.query(Self.checks, [night, firstCustomer, lastCustomer, now]).rows[0]
            .decode((Int64, Int64, Int64, Int64, Int64).self)
        let sample = stride(from: 0, to: customers.count, by: max(1, customers.count / Self.sampleCustomers)).map { customers[$0] }
        let differing = try await pool.query(Self.compareWithoutPrefilter, [night, sample, now]).scalar(Int64.self)
        return Result(
            customers: customers.count, cleaners: cleanerIDs.count, orders: orders, loading: loading, job: job,
            customersWithList: Int(checks.0), rows: Int(checks.1),
            longestList: Int(checks.2), outsideArea: Int(checks.3), ratedTwoOrLess: Int(checks.4),
            sampleCompared: sample.count, sampleDiffering: Int(differing))
    }

    /// $1 night, customers ($2 … $3), $4 now: customers with a list, rows, the
    /// longest list, rows whose cleaner's areas miss the usual address, rows of a
    /// cleaner the customer rated ≤ 2.
    static let checks = """
        WITH lists AS (
            SELECT * FROM platform.cleaner_recommendations WHERE night = $1::date AND customer_id BETWEEN $2 AND $3
        ), home AS (
            SELECT DISTINCT ON (o.customer_id) o.customer_id, o.latitude, o.longitude FROM platform.orders AS o
            WHERE o.customer_id BETWEEN $2 AND $3 AND o.status <> '已取消'
              AND o.appointment_start >= $4 - interval '180 days' AND o.appointment_start < $4
            ORDER BY o.customer_id, o.appointment_start DESC
        )
        SELECT (SELECT count(DISTINCT customer_id) FROM lists)::int8, (SELECT count(*) FROM lists)::int8,
               (SELECT COALESCE(max(rank), 0) FROM lists)::int8,
               (SELECT count(*) FROM lists AS l JOIN home AS h USING (customer_id) JOIN platform.cleaners AS cl ON cl.id = l.cleaner_id
                WHERE platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) > cl.radius_km
                  AND NOT EXISTS (SELECT 1 FROM platform.cleaner_service_areas AS a WHERE a.cleaner_id = cl.id
                        AND platform.great_circle_km(a.latitude, a.longitude, h.latitude, h.longitude) <= a.radius_km))::int8,
               (SELECT count(*) FROM lists AS l WHERE EXISTS (
                    SELECT 1 FROM platform.orders AS o JOIN platform.reviews AS r ON r.order_id = o.id
                    WHERE o.customer_id = l.customer_id AND o.cleaner_id = l.cleaner_id AND r.rating <= 2))::int8
        """

    /// The reference: the nightly ranking without the grid (every active cleaner's
    /// and every service area's distance to the address, as migration 0019 paired
    /// them), for the sampled customers ($2) only; returns how many of them got a
    /// different list ($1 night, $3 now).
    static let compareWithoutPrefilter = """
        WITH booked AS (
            SELECT o.customer_id, o.latitude, o.longitude, o.appointment_start, s.skill
            FROM platform.orders AS o JOIN platform.service_types AS s ON s.id = o.service_type_id
            WHERE o.customer_id = ANY($2) AND o.status <> '已取消'
              AND o.appointment_start >= $3 - interval '180 days' AND o.appointment_start < $3
        ), home AS (
            SELECT DISTINCT ON (customer_id) customer_id, latitude, longitude FROM booked ORDER BY customer_id, appointment_start DESC
        ), skills AS (
            SELECT DISTINCT customer_id, skill FROM booked
        ), rated AS (
            SELECT o.customer_id, o.cleaner_id, avg(r.rating)::double precision AS mean_rating, min(r.rating) AS worst
            FROM platform.orders AS o JOIN platform.reviews AS r ON r.order_id = o.id
            WHERE o.customer_id = ANY($2) AND o.cleaner_id IS NOT NULL GROUP BY o.customer_id, o.cleaner_id
        ), covering AS (
            SELECT h.customer_id, cl.id AS cleaner_id FROM home AS h JOIN platform.cleaners AS cl ON cl.status = 'active'
            WHERE platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) <= cl.radius_km
            UNION
            SELECT h.customer_id, a.cleaner_id FROM home AS h CROSS JOIN platform.cleaner_service_areas AS a
            JOIN platform.cleaners AS cl ON cl.id = a.cleaner_id AND cl.status = 'active'
            WHERE platform.great_circle_km(a.latitude, a.longitude, h.latitude, h.longitude) <= a.radius_km
        ), matched AS (
            SELECT v.customer_id, v.cleaner_id, count(*) AS skills_matched
            FROM covering AS v JOIN skills AS k ON k.customer_id = v.customer_id
            JOIN platform.certifications AS c
                ON c.cleaner_id = v.cleaner_id AND c.skill = k.skill AND c.granted_at <= $3 AND c.expires_at > $3
            GROUP BY v.customer_id, v.cleaner_id
        ), scored AS (
            SELECT m.customer_id, m.cleaner_id, d.km,
                   COALESCE((r.mean_rating - 3) / 2, 0) + greatest(0.0, 1 - d.km / cl.radius_km) + m.skills_matched * 0.1 AS score
            FROM matched AS m JOIN home AS h ON h.customer_id = m.customer_id
            JOIN platform.cleaners AS cl ON cl.id = m.cleaner_id
            CROSS JOIN LATERAL (
                SELECT platform.great_circle_km(cl.latitude, cl.longitude, h.latitude, h.longitude) AS km) AS d
            LEFT JOIN rated AS r ON r.customer_id = m.customer_id AND r.cleaner_id = m.cleaner_id
            WHERE r.worst IS NULL OR r.worst > 2
        ), reference AS (
            SELECT customer_id, array_agg(cleaner_id ORDER BY rank) AS list FROM (
                SELECT customer_id, cleaner_id,
                       row_number() OVER (PARTITION BY customer_id ORDER BY score DESC, km, cleaner_id) AS rank
                FROM scored) AS ranked
            WHERE rank <= 5 GROUP BY customer_id
        ), stored AS (
            SELECT customer_id, array_agg(cleaner_id ORDER BY rank) AS list FROM platform.cleaner_recommendations
            WHERE night = $1::date AND customer_id = ANY($2) GROUP BY customer_id
        )
        SELECT count(*)::int8 FROM reference AS r FULL JOIN stored AS s USING (customer_id)
        WHERE r.list IS DISTINCT FROM s.list
        """
}
