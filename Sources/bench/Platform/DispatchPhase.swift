import BenchSupport
import CleaningPlatform
import CommandLineInterface
import Foundation
import JobQueue
import PostgresClient
import SeededRandom

/// Order dispatch (issue 17 point 8) in one city: cleaners with skills, hours and
/// areas; orders booked through the real booking path (`platform.book_order`, which
/// queues each order's first round); JobWorkers running the platform's handlers on
/// the dispatch and notification queues; the cleaners' answers from `OfferAnswerer`.
///
/// 1. Matching: all but the latency samples are booked with no worker running, then
///    the workers start: orders matched (accepted) per second, from the workers'
///    start to the last acceptance.
/// 2. Latency, with the workers idle: one at a time, a no-op job is enqueued on the
///    dispatch queue (the queue's own enqueue → start) and an order is booked
///    (booking → its first offer visible in the database, polled every millisecond).
///
/// Then the database is checked: every order assigned once (or escalated, when every
/// round was refused), no overlapping accepted orders, at most one live offer per
/// cleaner and order.
struct DispatchPhase {
    let options: PlatformOptions
    let pool: PostgresPool
    let dataset: Dataset
    let serverPID: Int32?

    /// The city: cleaners live within `cityKm` of its centre (a 10 km area each),
    /// orders are within `orderKm`.
    static let cityKm = 15.0
    static let orderKm = 12.0
    static let cleanerRadiusKm = 10.0
    static let bookingBatch = 100
    /// Connections answering offers at once, each for its share of the cleaners.
    static let answerLoops = 4
    /// A stall this long (no order matched) fails the run.
    static let stallLimit = Duration.seconds(120)

    struct Result: Sendable {
        var cleaners: Int
        var bulkOrders: Int
        /// Of the bulk orders, those assigned (the rest escalated: every round refused).
        var bulkMatched: Int
        var latencySamples: Int
        var loading: Duration
        var booking: Duration
        var bookingCPU: CPUSpent
        /// Workers' start → the last bulk order's acceptance.
        var matching: Duration
        var matchingCPU: CPUSpent
        /// Milliseconds, per latency sample.
        var toFirstOffer: [Double]
        var queueStart: [Double]
        var answers: [String: Int]
        var averageRound: Double
        var orders: Int
        var assigned: Int
        var assignedOnce: Int
        /// Waiting after every round was refused, their retry round scheduled after the back-off.
        var escalated: Int
        var overlapping: Int
        var doubledLiveOffers: Int
        var openOffersLeft: Int
        var roundJobStates: [(JobState, Int)]
        var notificationsPending: Int

        var verified: Bool {
            assignedOnce == assigned && assigned + escalated == orders && overlapping == 0 && doubledLiveOffers == 0
                && openOffersLeft == 0 && roundJobStates.allSatisfy { $0.0 == .completed || $0.0 == .scheduled }
                && roundJobStates.first { $0.0 == .scheduled }.map { $0.1 } ?? 0 == escalated
                && toFirstOffer.count == latencySamples && queueStart.count == latencySamples
        }
    }

    func run() async throws -> Result {
        let clock = ContinuousClock()
        let since = try await pool.query("SELECT now()").scalar(Date.self)
        var random = SeededRandom(seed: UInt64(dataset.run) ^ 0xD15_7A7C)
        // A city of its own per run (22–37° N, 102–120° E), so earlier runs' cleaners stay out of reach.
        let centre = (latitude: 22.0 + Double(dataset.run % 16), longitude: 102.0 + Double(dataset.run * 7 % 19))

        Output.log("loading \(options.dispatchCleaners) cleaners in one city (COPY, then hours, certifications, areas) …")
        var started = clock.now
        let now = Date()
        let cleaners = (0..<options.dispatchCleaners).map { index in
            let home = BenchCleaners.point(around: centre.latitude, centre.longitude, withinKm: Self.cityKm, using: &random)
            return BenchCleaners.Cleaner(
                latitude: home.latitude, longitude: home.longitude, radiusKm: Self.cleanerRadiusKm,
                skills: index % 2 == 0 ? ["daily_cleaning", "windows"] : ["daily_cleaning"])
        }
        _ = try await BenchCleaners.load(
            cleaners, phoneDigit: "8", run: dataset.run, workingHours: true, now: now, pool: pool)
        let loading = clock.now - started

        let orders = newOrders(around: centre, now: now, using: &random)
        let latencySamples = min(200, max(1, orders.count / 20))
        let bulk = Array(orders.dropLast(latencySamples))
        let samples = Array(orders.suffix(latencySamples))

        Output.log("booking \(bulk.count) orders through platform.book_order, \(Self.bookingBatch) per transaction …")
        started = clock.now
        var cpu = CPUSample.take(serverPID: serverPID)
        var bulkIDs: [Int64] = []
        for batchStart in stride(from: 0, to: bulk.count, by: Self.bookingBatch) {
            let batch = bulk[batchStart..<min(bulk.count, batchStart + Self.bookingBatch)]
            bulkIDs += try await pool.withTransaction { connection in
                try batch.map { try OrderBooking.book($0, now: Date(), on: connection) }
            }
        }
        let booking = clock.now - started
        let bookingCPU = cpu.until(CPUSample.take(serverPID: serverPID))

        Output.log("ANALYZE of the job table and the order tables; CHECKPOINT (untimed) …")
        _ = try await pool.withConnection {
            try Settle.run([JobTable.analyze, "ANALYZE platform.orders, platform.order_dispatches, platform.cleaners"], on: $0)
        }

        let starts = StartTimes()
        let answerer = OfferAnswerer(database: options.database.configuration, loops: Self.answerLoops)
        let tally = LogTally()
        let services = PlatformServices(provider: InstantProvider(), log: tally.log(minimumLevel: .warning))
        var handlers = PlatformJobs.handlers(services)
        handlers.register(ProbeJob.self) { arguments, _ in starts.record(arguments.sample, at: .now) }
        let workers = try (0..<options.workers).map { index in
            // Leader services on (no periodic jobs): an offer nobody answered in time
            // expires through its scheduled expiry job, and a job whose worker lost its
            // lease is rescued, as in production.
            var configuration = WorkerConfiguration(
                queues: [OrderDispatch.queue: options.concurrency, NotificationOutbox.dispatchQueue: options.concurrency],
                workerID: "bench-platform-orders-\(ProcessInfo.processInfo.processIdentifier)-\(index + 1)",
                runsLeaderServices: true)
            if let connections = options.connections { configuration.maxConnections = connections }
            return try JobWorker(
                database: options.database.configuration, handlers: handlers, configuration: configuration,
                log: tally.log(minimumLevel: .warning))
        }

        Output.log(
            "dispatching \(bulk.count) orders: \(options.workers) worker(s) × concurrency \(options.concurrency) on queues "
                + "\(OrderDispatch.queue) and \(NotificationOutbox.dispatchQueue), cleaners answering on \(Self.answerLoops) connections …")
        let workersStarted = Date()
        cpu = CPUSample.take(serverPID: serverPID)
        let running = workers.map { worker in Task { try await worker.run() } }
        let answering = Task { try await answerer.run() }
        func stopAll() async {
            answerer.stop()
            for worker in workers { worker.shutdown() }
            _ = try? await answering.value
            for task in running { _ = try? await task.value }
            await answerer.close()
        }

        var toFirstOffer: [Double] = []
        var queueStart: [Double] = []
        var sampleIDs: [Int64] = []
        let matching: Duration
        let matchingCPU: CPUSpent
        do {
            try await waitUntilDispatched(bulkIDs, answerer: answerer, clock: clock)
            matchingCPU = cpu.until(CPUSample.take(serverPID: serverPID))
            let lastAccepted = try await pool.query(
                "SELECT max(accepted_at) FROM platform.orders WHERE id = ANY($1)", [bulkIDs]
            ).scalar(Date?.self) ?? Date()
            matching = .milliseconds(Int64(lastAccepted.timeIntervalSince(workersStarted) * 1000))

            Output.log("\(latencySamples) latency samples with idle workers: a no-op job, then a booking, one at a time …")
            for (sample, order) in samples.enumerated() {
                let enqueued = clock.now
                _ = try await pool.withConnection {
                    try $0.enqueue(try JobRequest(ProbeJob(sample: sample), queue: OrderDispatch.queue)).id
                }
                while starts.start(of: sample) == nil {
                    if clock.now - enqueued > .seconds(30) { throw BenchFailure("no-op job \(sample) did not start in 30 s") }
                    try await Task.sleep(for: .milliseconds(1))
                }
                if let start = starts.start(of: sample) { queueStart.append((start - enqueued).milliseconds) }

                let booked = clock.now
                let id = try await pool.withTransaction { try OrderBooking.book(order, now: Date(), on: $0) }
                sampleIDs.append(id)
                while try await !pool.query(
                    "SELECT first_offer_at IS NOT NULL FROM platform.order_dispatches WHERE order_id = $1", [id]
                ).scalar(Bool.self) {
                    if clock.now - booked > .seconds(30) { throw BenchFailure("order \(id) got no offer within 30 s") }
                    try await Task.sleep(for: .milliseconds(1))
                }
                toFirstOffer.append((clock.now - booked).milliseconds)
                try await Task.sleep(for: .milliseconds(20))
            }
            try await waitUntilDispatched(sampleIDs, answerer: answerer, clock: clock)
            try await waitForNotifications(clock: clock)
        } catch {
            await stopAll()
            throw error
        }
        await stopAll()

        let allIDs = bulkIDs + sampleIDs
        let (assigned, assignedOnce, escalated, bulkMatched) = try await pool.query(
            """
            SELECT count(*) FILTER (WHERE o.status = $2)::int8,
                   count(*) FILTER (WHERE o.status = $2 AND f.accepted = 1 AND f.cleaner_id = o.cleaner_id)::int8,
                   count(*) FILTER (WHERE o.status = $3 AND d.status = 'escalated' AND f.accepted = 0)::int8,
                   count(*) FILTER (WHERE o.status = $2 AND o.id = ANY($4))::int8
            FROM platform.orders AS o
            JOIN platform.order_dispatches AS d ON d.order_id = o.id
            CROSS JOIN LATERAL (
                SELECT count(*) AS accepted, min(x.cleaner_id) AS cleaner_id FROM platform.dispatch_offers AS x
                WHERE x.order_id = o.id AND x.status = 'accepted') AS f
            WHERE o.id = ANY($1)
            """, [allIDs, OrderStatus.accepted, OrderStatus.waiting, bulkIDs]
        ).rows[0].decode((Int64, Int64, Int64, Int64).self)
        let overlapping = try await pool.query(
            """
            SELECT count(*)::int8 FROM platform.orders AS a JOIN platform.orders AS b
                ON b.cleaner_id = a.cleaner_id AND b.id <> a.id AND b.status = ANY($2)
               AND platform.appointment_range(a.appointment_start, a.duration_minutes)
                   && platform.appointment_range(b.appointment_start, b.duration_minutes)
            WHERE a.id = ANY($1) AND a.status = ANY($2)
            """, [allIDs, [OrderStatus.accepted, OrderStatus.inService]]
        ).scalar(Int64.self)
        let (doubled, openLeft) = try await pool.query(
            """
            SELECT count(*) FILTER (WHERE live > 1)::int8, COALESCE(sum(live), 0)::int8 FROM (
                SELECT count(*) AS live FROM platform.dispatch_offers
                WHERE order_id = ANY($1) AND status = 'open' GROUP BY order_id, cleaner_id) AS open
            """, [allIDs]
        ).rows[0].decode((Int64, Int64).self)
        let averageRound = try await pool.query(
            "SELECT COALESCE(avg(round), 0)::float8 FROM platform.order_dispatches WHERE order_id = ANY($1)", [allIDs]
        ).scalar(Double.self)
        let (roundStates, pending) = try await pool.withConnection { connection in
            let rounds = try JobCounts.byState(kind: DispatchOrder.kind, createdSince: since, on: connection)
            let notifications = try JobCounts.byState(queue: NotificationOutbox.dispatchQueue, on: connection)
            return (
                rounds.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value.jobs) },
                [JobState.available, .running].map { notifications[$0]?.jobs ?? 0 }.reduce(0, +))
        }
        return Result(
            cleaners: options.dispatchCleaners, bulkOrders: bulk.count, bulkMatched: Int(bulkMatched), latencySamples: latencySamples, loading: loading,
            booking: booking, bookingCPU: bookingCPU, matching: matching, matchingCPU: matchingCPU,
            toFirstOffer: toFirstOffer, queueStart: queueStart, answers: answerer.counts, averageRound: averageRound,
            orders: allIDs.count, assigned: Int(assigned), assignedOnce: Int(assignedOnce), escalated: Int(escalated), overlapping: Int(overlapping),
            doubledLiveOffers: Int(doubled), openOffersLeft: Int(openLeft), roundJobStates: roundStates,
            notificationsPending: pending)
    }

    /// The orders to book: within `orderKm` of the centre; 2 to 7 days ahead, 09:00 to
    /// 15:00 business time on the half hour; every fifth one window cleaning (offered
    /// to 3 at once), the others daily cleaning (one at a time); each its own customer.
    private func newOrders(
        around centre: (latitude: Double, longitude: Double), now: Date, using random: inout SeededRandom
    ) -> [OrderBooking.NewOrder] {
        let calendar = BusinessCalendar.default
        return (0..<options.dispatchOrders).map { index in
            let place = BenchCleaners.point(around: centre.latitude, centre.longitude, withinKm: Self.orderKm, using: &random)
            let day = calendar.adding(days: 2 + index % 6, to: now)
            let slot = index / 6 % 13
            let start = calendar.moment(hour: 9 + slot / 2, onDayOf: day).addingTimeInterval(Double(slot % 2) * 1800)
            let windows = index % 5 == 0
            return OrderBooking.NewOrder(
                customerID: dataset.customerIDs[index % dataset.customerIDs.count], serviceTypeID: windows ? 5 : 1,
                address: "压测路\(index)号", latitude: place.latitude, longitude: place.longitude, appointmentStart: start,
                durationMinutes: windows ? 120 : 180, amountFen: windows ? 9_900 : 15_000)
        }
    }

    /// Until no order of `ids` is still waiting with its dispatch offering (assigned,
    /// escalated or stopped ones are done); fails after `stallLimit` without progress.
    private func waitUntilDispatched(_ ids: [Int64], answerer: OfferAnswerer, clock: ContinuousClock) async throws {
        var lastDone = -1
        var lastChange = clock.now
        var nextProgress = clock.now + .seconds(10)
        while true {
            let (offering, assigned) = try await pool.query(
                """
                SELECT count(*) FILTER (WHERE o.status = $2 AND d.status = 'offering')::int8,
                       count(*) FILTER (WHERE o.status = $3)::int8
                FROM platform.orders AS o JOIN platform.order_dispatches AS d ON d.order_id = o.id
                WHERE o.id = ANY($1)
                """, [ids, OrderStatus.waiting, OrderStatus.accepted]
            ).rows[0].decode((Int64, Int64).self)
            if offering == 0 { return }
            if let failure = answerer.failure { throw BenchFailure("the simulated cleaners stopped: \(failure)") }
            let now = clock.now
            if Int(assigned) != lastDone {
                lastDone = Int(assigned)
                lastChange = now
            } else if now - lastChange > Self.stallLimit {
                throw BenchFailure("dispatch stalled: \(assigned) of \(ids.count) orders assigned, none for 2 minutes")
            }
            if now >= nextProgress {
                nextProgress = now + .seconds(10)
                Output.log("  \(assigned) of \(ids.count) orders assigned")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The offers' and assignments' messages: until none is waiting to be sent (at
    /// most a minute; the report shows any left).
    private func waitForNotifications(clock: ContinuousClock) async throws {
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let counts = try await pool.withConnection {
                try JobCounts.byState(queue: NotificationOutbox.dispatchQueue, on: $0)
            }
            if (counts[.available]?.jobs ?? 0) + (counts[.running]?.jobs ?? 0) == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
