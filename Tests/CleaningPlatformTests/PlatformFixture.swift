import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// A provider that records what it was asked to send and answers as told.
final class RecordingProvider: NotificationProvider {
    private let sent = Mutex<[OutgoingMessage]>([])
    private let answer: @Sendable (OutgoingMessage) throws -> DeliveryResult

    init(answer: @escaping @Sendable (OutgoingMessage) throws -> DeliveryResult = { .delivered(providerMessageID: "p-\($0.notificationID)") }) {
        self.answer = answer
    }

    func send(_ message: OutgoingMessage) async throws -> DeliveryResult {
        sent.withLock { $0.append(message) }
        return try answer(message)
    }

    var messages: [OutgoingMessage] { sent.withLock { $0 } }
}

/// The migrated test database, a customer and a cleaner, and helpers.
struct PlatformFixture {
    let pool: PostgresPool
    let configuration: PostgresConfiguration

    /// `configuration`: where the fixture's pool connects (default: the test
    /// cluster directly; migrations always go directly).
    init(configuration: PostgresConfiguration? = nil) throws {
        try TestDatabase.migrate()
        let chosen = try configuration ?? TestDatabase.configuration
        self.configuration = chosen
        pool = PostgresPool(configuration: chosen, maxConnections: 4)
    }

    /// A phone number unique to this run.
    static func phone() -> String {
        "13" + String(format: "%09d", UInt32.random(in: 0..<1_000_000_000))
    }

    func customer(timeZone: String = "Asia/Shanghai") async throws -> (id: Int64, phone: String) {
        let phone = Self.phone()
        let id = try await pool.query(
            "INSERT INTO platform.customers (phone, name, time_zone) VALUES ($1, '张三', $2) RETURNING id", [phone, timeZone]
        ).scalar(Int64.self)
        return (id, phone)
    }

    func cleaner() async throws -> (id: Int64, phone: String) {
        let phone = Self.phone()
        let id = try await pool.query(
            """
            INSERT INTO platform.cleaners (phone, name, skills, latitude, longitude)
            VALUES ($1, '李四', '{daily_cleaning}', 31.23, 121.47) RETURNING id
            """, [phone]
        ).scalar(Int64.self)
        return (id, phone)
    }

    func order(customerID: Int64, appointment: Date, now: Date) async throws -> Int64 {
        try await pool.withTransaction { connection in
            try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customerID, serviceTypeID: 1, address: "上海市黄浦区人民路1号", latitude: 31.23, longitude: 121.47,
                    appointmentStart: appointment, durationMinutes: 180, amountFen: 15_000),
                now: now, on: connection)
        }
    }

    /// Jobs of a kind as the engine's administration reads them.
    func jobs<Arguments: JobArguments>(
        _ kind: Arguments.Type, state: JobState? = nil, batch: String? = nil
    ) async throws -> [JobAdministration.KindJob<Arguments>] {
        try await pool.withConnection { try JobAdministration.jobs(kind, state: state, batch: batch, on: $0) }
    }

    /// A job's state (nil: no such job).
    func jobState(_ id: Int64) async throws -> JobState? {
        try await JobAdministration(database: pool).show(id)?.job.state
    }

    /// Reminder jobs of an order: (moment, state, run_at), by run_at.
    func reminders(_ orderID: Int64) async throws -> [(String, String, Date)] {
        try await jobs(OrderReminder.self).filter { $0.arguments.orderID == orderID }
            .sorted { ($0.runAt, $0.id) < ($1.runAt, $1.id) }
            .map { ($0.arguments.moment.rawValue, $0.state.rawValue, $0.runAt) }
    }

    /// Runs a worker with the platform's handlers on every platform queue while
    /// `body` runs.
    func running<T>(
        _ services: PlatformServices, concurrency: Int = 4, _ body: () async throws -> T
    ) async throws -> T {
        let worker = try JobWorker(
            database: configuration, handlers: PlatformJobs.handlers(services),
            configuration: WorkerConfiguration(
                queues: PlatformJobs.queues.mapValues { _ in concurrency }, workerID: TestDatabase.uniqueName("pw"),
                pollInterval: .milliseconds(100), leaseDuration: .seconds(10), stageInterval: .milliseconds(100),
                leaderInterval: .milliseconds(100)),
            log: .silent)
        return try await worker.running(body)
    }

    /// Skips the test unless the test database is a Citus coordinator.
    func requireCitus() async throws {
        guard try TestDatabase.isCitus else { throw XCTSkip(TestDatabase.singleServerSkipReason) }
    }

    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
        try await TestSupport.eventually(timeout: timeout, condition)
    }

    /// Notifications to one recipient: (template, status, failure reason).
    func notifications(to recipient: String) async throws -> [(String, String, String?)] {
        try await pool.query(
            "SELECT template_code, status, failure_reason FROM platform.notifications WHERE recipient = $1 ORDER BY id",
            [recipient]
        ).rows.map { try $0.decode((String, String, String?).self) }
    }

    /// Jobs runnable or running on the platform's queues other than payouts. One
    /// count filtered on the queues, which a Citus coordinator routes to those queues'
    /// shards (the per-queue overview `JobAdministration.queues()` is refused there).
    func unfinishedJobs() async throws -> Int {
        let queues = [JobRequest.defaultQueue, OrderReminder.queue, NotificationOutbox.dispatchQueue, PlatformJobs.maintenanceQueue]
        return Int(try await pool.query(
            "SELECT count(*)::int8 FROM queue.jobs WHERE queue = ANY($1) AND state = ANY($2)",
            [queues, [JobState.available, JobState.running].map(\.rawValue)]
        ).scalar(Int64.self))
    }
}

// MARK: - Payouts

extension PlatformFixture {
    /// An ISO week of its own per test (runs are per period, and tests share a database).
    /// Weeks are handed out in turn from a random start, four apart, so no two calls of
    /// one test process get the same week or a neighbour (tests also use the week
    /// before or after theirs): drawn at random each time, two of the ~20 calls of a run
    /// met in one week now and then, and a test then paid another test's cleaner.
    static func uniquePayoutPeriod() throws -> PayoutPeriod {
        let slot = nextPayoutSlot.withLock { next in
            defer { next = (next + 1) % payoutSlots }
            return next
        }
        let week = slot * 4
        return try PayoutPeriod(
            String(format: "%04d-W%02d", 2040 + week / 52, 1 + week % 52),
            timeZone: TimeZone(identifier: "Asia/Shanghai")!)
    }

    /// Every fourth of weeks 1–52 of the years 2040–2190, far from any real or seeded data.
    private static let payoutSlots = 151 * 52 / 4
    private static let nextPayoutSlot = Mutex(Int.random(in: 0..<payoutSlots))

    func cleaner(level: String) async throws -> Int64 {
        let id = try await cleaner().id
        _ = try await pool.query("UPDATE platform.cleaners SET level = $2 WHERE id = $1", [id, level])
        return id
    }

    /// A completed order of `cleaner` paid `paid` fen, completed at `at`.
    @discardableResult
    func completedOrder(customer: Int64, cleaner: Int64, paid: Int64, at: Date) async throws -> Int64 {
        try await pool.withTransaction { connection in
            let id = try OrderBooking.book(
                OrderBooking.NewOrder(
                    customerID: customer, serviceTypeID: 1, address: "x", latitude: 31, longitude: 121,
                    appointmentStart: at.addingTimeInterval(-7200), durationMinutes: 60, amountFen: paid),
                now: at.addingTimeInterval(-86_400), on: connection)
            try OrderBooking.assign(orderID: id, cleanerID: cleaner, now: at.addingTimeInterval(-80_000), on: connection)
            try OrderBooking.start(orderID: id, now: at.addingTimeInterval(-3600), on: connection)
            try OrderBooking.complete(orderID: id, now: at, on: connection)
            return id
        }
    }

    /// Credits a cleaner's wallet with a balanced transaction against order clearing.
    func creditWallet(of cleaner: Int64, fen: Int64) async throws {
        _ = try await pool.withTransaction { connection in
            let wallet = try connection.query(
                "INSERT INTO platform.ledger_accounts (code, type, cleaner_id) VALUES ($1, 'liability', $2) RETURNING id",
                ["cleaner:\(cleaner):wallet", cleaner]
            ).scalar(Int64.self)
            let clearing = try connection.query(
                "SELECT id FROM platform.ledger_accounts WHERE code = 'platform:order_clearing'").scalar(Int64.self)
            let transaction = try connection.query(
                "INSERT INTO platform.ledger_transactions (kind, reference, description) VALUES ('settlement', $1, 'test') RETURNING id",
                ["test-credit:\(cleaner)"]
            ).scalar(Int64.self)
            try connection.execute(
                "INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen) VALUES ($1, $2, $4), ($1, $3, $5)",
                [transaction, wallet, clearing, -fen, fen])
        }
    }

    /// Ledger transactions whose entries do not sum to zero (the database refuses
    /// them at commit, so this stays 0 unless that check is lost).
    func unbalancedLedgerTransactions() async throws -> Int64 {
        try await pool.query(
            "SELECT count(*)::int8 FROM (SELECT transaction_id FROM platform.ledger_entries GROUP BY 1 HAVING sum(amount_fen) <> 0) AS t"
        ).scalar(Int64.self)
    }

    /// Sum of a ledger account's entries (debits positive).
    func ledgerBalance(_ account: String) async throws -> Int64 {
        try await pool.query(
            """
            SELECT COALESCE(sum(e.amount_fen), 0)::int8 FROM platform.ledger_entries AS e
            JOIN platform.ledger_accounts AS a ON a.id = e.account_id WHERE a.code = $1
            """, [account]
        ).scalar(Int64.self)
    }
}
