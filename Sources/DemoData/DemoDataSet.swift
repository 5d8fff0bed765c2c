public import Foundation
import SeededRandom
import CleaningPlatform
import JobQueue
public import PostgresClient

/// A realistic data set for the demo, benchmarks and tests, generated from a seed
/// and loaded with COPY: customers, cleaners with skills and service areas in one
/// city, orders over the last 90 days and the next 7, reviews, complaints,
/// coupons, points, exams and submissions, plus the reminders of upcoming orders.
public struct DemoDataSet: Sendable {
    public var customers: Int
    public var cleaners: Int
    public var orders: Int
    public var seed: UInt64

    public init(customers: Int = 2_000, cleaners: Int = 150, orders: Int = 10_000, seed: UInt64 = 20_261_123) {
        self.customers = max(1, customers)
        self.cleaners = max(1, cleaners)
        self.orders = max(0, orders)
        self.seed = seed
    }

    public struct Loaded: Sendable, Equatable {
        public var customers = 0, cleaners = 0, orders = 0, completedOrders = 0, reviews = 0, complaints = 0
        public var coupons = 0, submissions = 0, reminders = 0
    }

    /// City centre the cleaners' service areas are spread around (Shanghai).
    static let centre = (latitude: 31.2304, longitude: 121.4737)
    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡"]
    static let givenNames = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛"]
    static let city = "上海市"
    static let districts = ["黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "浦东新区", "闵行区"]
    static let services: [(id: Int16, price: Int64, minutes: Int32, skill: String)] = [
        (1, 15_000, 180, "daily_cleaning"), (2, 39_900, 300, "deep_cleaning"), (3, 69_900, 480, "deep_cleaning"),
        (4, 12_900, 90, "appliance"), (5, 9_900, 120, "windows"),
    ]

    /// Loads everything in one transaction; returns what was loaded.
    public func load(now: Date, timeZone: TimeZone, on connection: PostgresConnection) throws -> Loaded {
        try connection.withTransaction { connection in try loadInTransaction(now: now, timeZone: timeZone, on: connection) }
    }

    private func loadInTransaction(now: Date, timeZone: TimeZone, on connection: PostgresConnection) throws -> Loaded {
        var random = SeededRandom(seed: seed)
        var loaded = Loaded()
        func name() -> String {
            Self.surnames[Int(random.next() % UInt64(Self.surnames.count))]
                + Self.givenNames[Int(random.next() % UInt64(Self.givenNames.count))]
        }
        let phoneBase = 13_000_000_000 + Int64(seed % 1_000) * 1_000_000
        // Customers.
        let firstCustomer = try Self.nextID("platform.customers", on: connection)
        loaded.customers = try connection.copyFrom(
            table: "platform.customers", columns: ["phone", "name", "activity_points", "created_at"]
        ) { writer in
            for index in 0..<customers {
                try writer.append([
                    "\(phoneBase + Int64(index))", name(), Int64(random.next() % 800),
                    now.addingTimeInterval(-Double(random.next() % (400 * 86_400))),
                ])
            }
        }
        // Cleaners around the centre (within ~20 km), with one to three skills.
        let firstCleaner = try Self.nextID("platform.cleaners", on: connection)
        let allSkills = ["daily_cleaning", "deep_cleaning", "appliance", "windows"]
        loaded.cleaners = try connection.copyFrom(
            table: "platform.cleaners", columns: ["phone", "name", "skills", "latitude", "longitude", "radius_km", "level"]
        ) { writer in
            for index in 0..<cleaners {
                let skills = allSkills.filter { $0 == "daily_cleaning" || random.chance(0.4) }
                let level = ["新手", "熟练", "金牌"][Int(random.next() % 3)]
                try writer.append([
                    "\(phoneBase + 500_000 + Int64(index))", name(), skills,
                    Self.centre.latitude + (Double(random.next() % 3_600) - 1_800) / 10_000,
                    Self.centre.longitude + (Double(random.next() % 4_200) - 2_100) / 10_000,
                    Double(5 + random.next() % 11), level,
                ])
            }
        }
        // Orders: 90 days back to 7 ahead. Past ones mostly completed, some cancelled.
        struct OrderRow { var customer: Int64; var cleaner: Int64?; var start: Date; var status: String; var paid: Int64 }
        var orderRows: [OrderRow] = []
        orderRows.reserveCapacity(orders)
        for index in 0..<orders {
            // The first few start just over a day from now, so their 24-hour
            // reminders come due while the demo runs.
            let offset = index < min(20, orders / 50) ? 86_400 + 15 + Double(index * 2)
                : -90 * 86_400 + Double(random.next() % UInt64(97 * 86_400))
            let start = now.addingTimeInterval(offset.rounded())
            let service = Self.services[Int(random.next() % UInt64(Self.services.count))]
            let customer = firstCustomer + Int64(random.next() % UInt64(customers))
            let cleaner = firstCleaner + Int64(random.next() % UInt64(cleaners))
            let ended = start.addingTimeInterval(Double(service.minutes) * 60) < now
            let status: String = ended ? (random.chance(0.9) ? "已完成" : "已取消")
                : (random.chance(0.6) ? "已接单" : "待接单")
            orderRows.append(OrderRow(
                customer: customer, cleaner: status == "待接单" || (status == "已取消" && random.chance(0.5)) ? nil : cleaner,
                start: start, status: status, paid: service.price))
        }
        let firstOrder = try Self.nextID("platform.orders", on: connection)
        var completedIDs: [Int64] = []
        loaded.orders = try connection.copyFrom(
            table: "platform.orders",
            columns: [
                "customer_id", "cleaner_id", "service_type_id", "address", "latitude", "longitude", "appointment_start",
                "duration_minutes", "status", "amount_fen", "paid_fen", "created_at", "accepted_at", "completed_at",
                "cancelled_at", "city", "district", "channel",
            ]
        ) { writer in
            // Accepted orders of one cleaner never overlap (the database refuses it):
            // an order drawn for a cleaner already booked then is left waiting for dispatch.
            var booked: [Int64: [Range<Date>]] = [:]
            for index in orderRows.indices {
                // A completed order ended before now: its length is capped by the time
                // since it started (it was found ended by its service's length).
                let drawn = Int32(120 + random.next() % 240)
                let minutes = orderRows[index].status == "已完成"
                    ? min(drawn, Int32(now.timeIntervalSince(orderRows[index].start) / 60)) : drawn
                if orderRows[index].status == "已接单", let cleaner = orderRows[index].cleaner {
                    let start = orderRows[index].start
                    let occupied = start..<start.addingTimeInterval(Double(minutes) * 60)
                    if booked[cleaner, default: []].contains(where: { $0.overlaps(occupied) }) {
                        orderRows[index].status = "待接单"
                        orderRows[index].cleaner = nil
                    } else {
                        booked[cleaner, default: []].append(occupied)
                    }
                }
                let row = orderRows[index]
                let district = Self.districts[Int(random.next() % UInt64(Self.districts.count))]
                let completed = row.status == "已完成" ? row.start.addingTimeInterval(Double(minutes) * 60) : nil
                if completed != nil { completedIDs.append(firstOrder + Int64(index)) }
                try writer.append([
                    row.customer, row.cleaner, Int16(1 + random.next() % 5),
                    "\(Self.city)\(district)\(1 + random.next() % 999)号", Self.centre.latitude, Self.centre.longitude, row.start,
                    minutes, row.status, row.paid, row.paid, row.start.addingTimeInterval(-3 * 86_400),
                    row.cleaner == nil ? nil : row.start.addingTimeInterval(-2 * 86_400), completed,
                    row.status == "已取消" ? row.start.addingTimeInterval(-86_400) : nil, Self.city, district,
                    // From the index, not the generator: the rest of the data set stays as it was.
                    OrderChannel.all[index % OrderChannel.all.count],
                ])
            }
        }
        loaded.completedOrders = completedIDs.count
        // Customer payments of completed orders in the ledger, set-based.
        try connection.execute(
            """
            WITH posted AS (
                INSERT INTO platform.ledger_transactions (kind, reference, description)
                SELECT 'collection', 'collection:' || id, 'payment for order ' || id
                FROM platform.orders WHERE id = ANY($1::int8[])
                RETURNING id, substr(reference, 12)::int8 AS order_id
            )
            INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen)
            SELECT p.id, a.id, CASE a.code WHEN 'platform:cash' THEN o.paid_fen ELSE -o.paid_fen END
            FROM posted AS p JOIN platform.orders AS o ON o.id = p.order_id
            JOIN platform.ledger_accounts AS a ON a.code IN ('platform:cash', 'platform:order_clearing')
            """, [completedIDs])
        // Points earned for completed orders (1 per yuan), some from last year.
        try connection.execute(
            """
            INSERT INTO platform.points_ledger (customer_id, delta, reason, order_id, expires_at, created_at)
            SELECT customer_id, paid_fen / 100, 'earned', id,
                   date_trunc('year', completed_at AT TIME ZONE $2) AT TIME ZONE $2 + interval '2 years', completed_at
            FROM platform.orders WHERE id = ANY($1::int8[]) AND paid_fen >= 100
            """, [completedIDs, timeZone.identifier])
        try connection.execute(
            """
            WITH s AS MATERIALIZED (
                -- Summed first: on Citus the ledger is distributed and customers is not,
                -- and Citus cannot plan an UPDATE of one joined with the other.
                SELECT customer_id, sum(delta) AS points FROM platform.points_ledger
                WHERE customer_id >= $1 GROUP BY customer_id
            )
            UPDATE platform.customers AS c SET points_balance = s.points
            FROM s WHERE c.id = s.customer_id
            """, [firstCustomer])
        // Reviews and complaints on completed orders.
        let comments = ["很干净，很满意", "准时到达，服务细致", "", "态度很好", "", "下次还会预约"]
        loaded.reviews = try connection.copyFrom(
            table: "platform.reviews", columns: ["order_id", "rating", "comment", "created_at"]
        ) { writer in
            for id in completedIDs where random.chance(0.6) {
                let rating = Int16(random.chance(0.7) ? 5 : 2 + Int(random.next() % 3))
                let at = orderRows[Int(id - firstOrder)].start.addingTimeInterval(Double(6 * 3600 + Int(random.next() % 86_400)))
                try writer.append([id, rating, comments[Int(random.next() % UInt64(comments.count))], min(at, now)])
            }
        }
        // A third upheld, a third rejected (both closed), a third still open (filed,
        // with their deadlines and escalation jobs as filing sets them).
        let firstComplaint = try Self.nextID("platform.complaints", on: connection)
        loaded.complaints = try connection.copyFrom(
            table: "platform.complaints",
            columns: ["order_id", "reason", "status", "outcome", "created_at", "acknowledged_at", "investigating_at",
                      "resolved_at", "closed_at"]
        ) { writer in
            for id in completedIDs where random.chance(0.03) {
                let at = min(orderRows[Int(id - firstOrder)].start.addingTimeInterval(86_400), now)
                let outcome = [ComplaintStatus.upheld, .rejected, nil][Int(random.next() % 3)]
                let resolved = min(at.addingTimeInterval(86_400), now)
                try writer.append([
                    id, "服务未达标准", (outcome == nil ? ComplaintStatus.filed : .closed).rawValue, outcome?.rawValue, at,
                    outcome.map { _ in at }, outcome.map { _ in at }, outcome.map { _ in resolved },
                    outcome.map { _ in resolved },
                ])
            }
        }
        for complaint in try connection.query(
            "SELECT id FROM platform.complaints WHERE id >= $1 AND status = $2 ORDER BY id",
            [firstComplaint, ComplaintStatus.filed.rawValue]
        ).rows {
            _ = try ComplaintDesk.scheduleEscalations(complaintID: try complaint.decode(0, as: Int64.self), on: connection)
        }
        // Coupons: ending from 10 days ago to 30 days ahead (some expire now, some get reminders).
        let template = try connection.query(
            "INSERT INTO platform.coupon_templates (name, discount_fen, min_spend_fen, valid_days) VALUES ('满200减20', 2000, 20000, 30) RETURNING id"
        ).scalar(Int64.self)
        loaded.coupons = try connection.copyFrom(
            table: "platform.coupons", columns: ["template_id", "customer_id", "valid_from", "valid_until"]
        ) { writer in
            for index in 0..<customers where random.chance(0.75) {
                let until = now.addingTimeInterval(Double(-10 * 86_400) + Double(random.next() % UInt64(40 * 86_400)))
                try writer.append([template, firstCustomer + Int64(index), until.addingTimeInterval(-30 * 86_400), until])
            }
        }
        // One exam per skill, and submissions to grade.
        var examIDs: [Int64] = []
        for skill in allSkills {
            let exam = try connection.query(
                "INSERT INTO platform.exams (skill, title, pass_mark, multiple_choice_rule) VALUES ($1, $2, 18, 'partial') RETURNING id",
                [skill, "\(skill) 上岗认证"]
            ).scalar(Int64.self)
            examIDs.append(exam)
            try connection.execute(
                """
                INSERT INTO platform.exam_questions (exam_id, position, kind, points, options, answer_key) VALUES
                    ($1, 1, 'single_choice', 10, '["A","B","C","D"]', '"B"'),
                    ($1, 2, 'multiple_choice', 10, '["A","B","C","D"]', '["A","C"]'),
                    ($1, 3, 'true_false', 5, NULL, 'true'), ($1, 4, 'fill_in', 5, NULL, '["中性清洁剂"]')
                """, [exam])
        }
        // Dispatch needs availability: every cleaner works 08:00–20:00 in their zone
        // but one rest day a week, and holds a certification (from an onboarding
        // exam taken 30 days ago) for each of their skills.
        try connection.execute(
            """
            INSERT INTO platform.cleaner_working_hours (cleaner_id, iso_weekday, starts_at, ends_at)
            SELECT c.id, day, time '08:00', time '20:00'
            FROM platform.cleaners AS c CROSS JOIN generate_series(1, 7) AS day
            WHERE c.id >= $1 AND day <> 1 + c.id % 7
            """, [firstCleaner])
        try connection.execute(
            """
            WITH onboarding AS (
                INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers, status, score, passed, submitted_at, graded_at)
                SELECT e.id, c.id, '{}', 'graded', 30, true, $2::timestamptz - interval '30 days', $2::timestamptz - interval '30 days'
                FROM platform.cleaners AS c JOIN platform.exams AS e ON e.skill = ANY (c.skills) AND e.id = ANY ($3::int8[])
                WHERE c.id >= $1
                RETURNING id, exam_id, cleaner_id, graded_at
            )
            INSERT INTO platform.certifications (cleaner_id, skill, submission_id, granted_at, expires_at)
            SELECT o.cleaner_id, e.skill, o.id, o.graded_at, o.graded_at + interval '1 year'
            FROM onboarding AS o JOIN platform.exams AS e ON e.id = o.exam_id
            """, [firstCleaner, now, examIDs])
        var submissionIDs: [Int64] = []
        for index in 0..<cleaners where random.chance(0.5) {
            let exam = examIDs[Int(random.next() % UInt64(examIDs.count))]
            let questions = try connection.query(
                "SELECT id FROM platform.exam_questions WHERE exam_id = $1 ORDER BY position", [exam]
            ).rows.map { try $0.decode(0, as: Int64.self) }
            let answers = """
                {"\(questions[0])": "\(random.chance(0.7) ? "B" : "A")", "\(questions[1])": \(random.chance(0.5) ? #"["A","C"]"# : #"["A"]"#), \
                "\(questions[2])": \(random.chance(0.8)), "\(questions[3])": "\(random.chance(0.6) ? " 中性清洁剂" : "洗洁精")"}
                """
            submissionIDs.append(try connection.query(
                "INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers, submitted_at) VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
                [exam, firstCleaner + Int64(index), answers, now]
            ).scalar(Int64.self))
        }
        loaded.submissions = submissionIDs.count
        _ = try connection.enqueue(try submissionIDs.map {
            try JobRequest(GradeExamSubmission(submissionID: $0), uniqueKey: "grade:\($0)", uniqueScope: .always)
        })
        // Reminders of upcoming orders, as booking and assignment would have
        // scheduled them (the same SQL function schedules them).
        let upcoming = orderRows.indices.filter {
            orderRows[$0].start > now && [OrderStatus.waiting, OrderStatus.accepted].contains(orderRows[$0].status)
        }.map { firstOrder + Int64($0) }
        loaded.reminders = Int(
            try connection.query(
                """
                SELECT count(*) FILTER (WHERE platform.schedule_order_reminder(o.id, m.moment, o.appointment_start,
                                                                               o.cleaner_id, $2))::int8
                FROM platform.orders AS o
                CROSS JOIN unnest(ARRAY['customer_24h', 'customer_2h', 'cleaner_1h']) AS m(moment)
                WHERE o.id = ANY($1::int8[]) AND (m.moment <> 'cleaner_1h' OR o.cleaner_id IS NOT NULL)
                """, [upcoming, now]
            ).scalar(Int64.self))
        return loaded
    }

    /// The id the next row of `table` will get (rows loaded in one COPY get
    /// consecutive ids; nothing else inserts into these tables meanwhile).
    private static func nextID(_ table: String, on connection: PostgresConnection) throws -> Int64 {
        let sequence = try connection.query("SELECT pg_get_serial_sequence($1, 'id')", [table]).scalar(String.self)
        return try connection.query("SELECT nextval($1::regclass)", [sequence]).scalar(Int64.self) + 1
    }
}
