import BenchSupport
import Foundation
import PostgresClient
import SeededRandom

/// The rows one run loads: customers with phone numbers unique to the run and
/// coupons that all ended before the run started. The run's coupon template names
/// the run, so its rows can be told apart from anything else in the database.
struct Dataset: Sendable {
    /// The run's coupon template id; also part of every phone number and dedupe key.
    let run: Int64
    /// Customer i's phone number and id.
    let phones: [String]
    let customerIDs: [Int64]
    let coupons: Int

    struct Timings: Sendable {
        var customers: Duration = .zero
        var coupons: Duration = .zero
        var vacuum: Duration = .zero
        var customersCPU: CPUSpent?
        var couponsCPU: CPUSpent?
    }

    /// Loads `customers` customers and `coupons` coupons with binary COPY, then
    /// vacuums and analyses both tables and checkpoints, as a long-lived database
    /// would be before a nightly run.
    static func load(
        customers: Int, coupons: Int, pool: PostgresPool, serverPID: Int32?
    ) async throws -> (Dataset, Timings) {
        let clock = ContinuousClock()
        var timings = Timings()
        let run = try await pool.query(
            """
            INSERT INTO platform.coupon_templates (name, discount_fen, min_spend_fen, valid_days)
            VALUES ('platform-bench ' || now()::text, 1000, 10000, 30) RETURNING id
            """
        ).scalar(Int64.self)
        // "9", six digits of the run, eight of the customer: 15 digits, unique per run.
        let prefix = "9" + String(format: "%06lld", run % 1_000_000)
        let phones = (0..<customers).map { prefix + String(format: "%08d", $0) }

        Output.log("loading \(customers) customers (COPY) …")
        var started = clock.now
        var cpu = CPUSample.take(serverPID: serverPID)
        let loadedCustomers = try await pool.withConnection { connection in
            try connection.copyFrom(table: "platform.customers", columns: ["phone", "name"]) { writer in
                for (index, phone) in phones.enumerated() { try writer.append([phone, "压测客户\(index)"]) }
            }
        }
        timings.customers = clock.now - started
        timings.customersCPU = cpu.until(CPUSample.take(serverPID: serverPID))
        guard loadedCustomers == customers else {
            throw BenchFailure("COPY loaded \(loadedCustomers) customers, expected \(customers)")
        }
        let customerIDs = try await pool.query(
            "SELECT id FROM platform.customers WHERE phone >= $1 AND phone < $2 ORDER BY phone",
            [prefix, prefix + ":"]
        ).rows.map { try $0.decode(0, as: Int64.self) }
        guard customerIDs.count == customers else {
            throw BenchFailure("loaded \(customers) customers but found \(customerIDs.count) with the run's phone prefix")
        }

        if coupons > 0 {
            Output.log("loading \(coupons) coupons that ended in the last 60 days (COPY) …")
            started = clock.now
            cpu = CPUSample.take(serverPID: serverPID)
            let now = Date()
            let loadedCoupons = try await pool.withConnection { connection in
                try connection.copyFrom(
                    table: "platform.coupons", columns: ["template_id", "customer_id", "valid_from", "valid_until"]
                ) { writer in
                    var random = SeededRandom(seed: UInt64(run))
                    for index in 0..<coupons {
                        // Ended between 1 hour and 60 days ago, in no particular order.
                        let until = now.addingTimeInterval(-3600 - Double(random.next() % (60 * 86_400)))
                        try writer.append([
                            run, customerIDs[index % customers], until.addingTimeInterval(-30 * 86_400), until,
                        ])
                    }
                }
            }
            timings.coupons = clock.now - started
            timings.couponsCPU = cpu.until(CPUSample.take(serverPID: serverPID))
            guard loadedCoupons == coupons else {
                throw BenchFailure("COPY loaded \(loadedCoupons) coupons, expected \(coupons)")
            }
        }

        started = clock.now
        Output.log("VACUUM (ANALYZE) platform.customers, platform.coupons; CHECKPOINT (untimed) …")
        _ = try await pool.withConnection { try Settle.run(["VACUUM (ANALYZE) platform.customers, platform.coupons"], on: $0) }
        timings.vacuum = clock.now - started
        return (Dataset(run: run, phones: phones, customerIDs: customerIDs, coupons: coupons), timings)
    }
}
