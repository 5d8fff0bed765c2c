import Foundation
import PostgresClient
import TestSupport
import XCTest

final class ConnectionBehaviourTests: XCTestCase {
    func testServerErrorsCarrySQLStateAndConstraint() throws {
        let connection = try TestDatabase.connect()
        let table = TestDatabase.uniqueName("errors")
        try connection.executeScript(
            "CREATE TABLE \(table) (id int PRIMARY KEY, amount bigint CONSTRAINT \(table)_amount_ok CHECK (amount >= 0))")
        defer { try? connection.executeScript("DROP TABLE \(table)") }
        try connection.query("INSERT INTO \(table) VALUES ($1, $2)", [Int32(1), Int64(5)])
        XCTAssertThrowsError(try connection.query("INSERT INTO \(table) VALUES ($1, $2)", [Int32(1), Int64(5)])) { error in
            let error = error as! PostgresError
            XCTAssertTrue(error.isUniqueViolation)
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertEqual(error.constraint, "\(table)_pkey")
            XCTAssertEqual(error.table, table)
            XCTAssertNotNil(error.detail)
        }
        XCTAssertThrowsError(try connection.query("INSERT INTO \(table) VALUES ($1, $2)", [Int32(2), Int64(-1)])) { error in
            let error = error as! PostgresError
            XCTAssertTrue(error.isCheckViolation)
            XCTAssertEqual(error.constraint, "\(table)_amount_ok")
        }
        XCTAssertThrowsError(try connection.query("SELEC 1")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "42601")
            XCTAssertNotNil((error as! PostgresError).position)
        }
        // The connection stays usable after errors.
        XCTAssertEqual(try connection.query("SELECT 1::int8").scalar(Int64.self), 1)
        XCTAssertTrue(connection.isHealthy())
    }

    func testTransactionsCommitOnReturnAndRollBackOnThrow() throws {
        let connection = try TestDatabase.connect()
        let table = TestDatabase.uniqueName("tx")
        try connection.executeScript("CREATE TABLE \(table) (id int PRIMARY KEY)")
        defer { try? connection.executeScript("DROP TABLE \(table)") }
        struct Boom: Error {}

        try connection.withTransaction { try $0.query("INSERT INTO \(table) VALUES (1)") }
        XCTAssertThrowsError(
            try connection.withTransaction { connection in
                try connection.query("INSERT INTO \(table) VALUES (2)")
                throw Boom()
            })
        // A statement error caught inside the body must not turn into a silent commit.
        XCTAssertThrowsError(
            try connection.withTransaction { connection in
                try connection.query("INSERT INTO \(table) VALUES (3)")
                _ = try? connection.query("INSERT INTO \(table) VALUES (1)")
            }
        ) { error in XCTAssertTrue("\(error)".contains("aborted"), "\(error)") }
        // Savepoints undo only their part.
        try connection.withTransaction { connection in
            try connection.query("INSERT INTO \(table) VALUES (4)")
            _ = try? connection.withSavepoint { connection in
                try connection.query("INSERT INTO \(table) VALUES (5)")
                try connection.query("INSERT INTO \(table) VALUES (1)")  // duplicate: fails
            }
            try connection.query("INSERT INTO \(table) VALUES (6)")
        }
        XCTAssertThrowsError(try connection.withTransaction { try $0.withTransaction { _ in } })
        let ids = try connection.query("SELECT id FROM \(table) ORDER BY id").rows.map { try $0.decode(0, as: Int32.self) }
        XCTAssertEqual(ids, [1, 4, 6])
        XCTAssertEqual(connection.transactionStatus, .idle)

        let level = try connection.withTransaction(isolation: .serializable) {
            try $0.query("SHOW transaction_isolation").scalar(String.self)
        }
        XCTAssertEqual(level, "serializable")
    }

    func testListenReceivesNotifyAndTimesOutWithoutOne() throws {
        let listener = try TestDatabase.connect()
        let sender = try TestDatabase.connect()
        let channel = TestDatabase.uniqueName("Channel With Spaces")
        try listener.listen(channel)

        let started = ContinuousClock.now
        XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(200)), [])
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(190))

        try sender.notify(channel, payload: "hello 保洁")
        let received = try listener.waitForNotifications(timeout: .seconds(5))
        XCTAssertEqual(received.map(\.payload), ["hello 保洁"])
        XCTAssertEqual(received.first?.channel, channel)
        XCTAssertEqual(received.first?.senderPID, sender.backendPID)

        // Inside a transaction: delivered at commit, not before.
        try sender.withTransaction { connection in
            try connection.notify(channel, payload: "in tx")
            XCTAssertEqual(try listener.waitForNotifications(timeout: .milliseconds(100)), [])
        }
        XCTAssertEqual(try listener.waitForNotifications(timeout: .seconds(5)).map(\.payload), ["in tx"])
    }

    func testWakeupInterruptsAWait() throws {
        let listener = try TestDatabase.connect()
        try listener.listen("never_notified")
        let wakeup = try PostgresWakeup()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { wakeup.wake() }
        let started = ContinuousClock.now
        XCTAssertEqual(try listener.waitForNotifications(timeout: .seconds(10), wakeup: wakeup), [])
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        // A wake before the wait is not lost.
        wakeup.wake()
        XCTAssertEqual(try listener.waitForNotifications(timeout: .seconds(10), wakeup: wakeup), [])
    }

    func testCopyLoadsOneHundredThousandRows() throws {
        let connection = try TestDatabase.connect()
        let table = TestDatabase.uniqueName("copy")
        try connection.executeScript(
            "CREATE TABLE \(table) (id bigint PRIMARY KEY, name text, amount int8, note text, payload jsonb, at timestamptz)")
        defer { try? connection.executeScript("DROP TABLE \(table)") }
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        let loaded = try connection.copyFrom(
            table: table, columns: ["id", "name", "amount", "note", "payload", "at"]
        ) { writer in
            for index in 0..<100_000 {
                let note: String? = index % 10 == 0 ? nil : "tab\there\nnewline \\ \(index)"
                try writer.append([
                    Int64(index), "客户\(index)", Int64(index * 100), note, PostgresJSON(["i": index]),
                    base.addingTimeInterval(Double(index)),
                ])
            }
        }
        XCTAssertEqual(loaded, 100_000)
        let row = try XCTUnwrap(
            try connection.query(
                "SELECT count(*), sum(amount), count(note), max(name) FILTER (WHERE id = 42), "
                    + "max(payload->>'i') FILTER (WHERE id = 99999) FROM \(table)"
            ).first)
        XCTAssertEqual(try row.decode(0, as: Int64.self), 100_000)
        XCTAssertEqual(try row.decode(1, as: Int64.self), (0..<100_000).reduce(0) { $0 + Int64($1) * 100 })
        XCTAssertEqual(try row.decode(2, as: Int64.self), 90_000)
        XCTAssertEqual(try row.decode(3, as: String.self), "客户42")
        XCTAssertEqual(try row.decode(4, as: String.self), "99999")
        let note = try connection.query("SELECT note FROM \(table) WHERE id = 7").scalar(String.self)
        XCTAssertEqual(note, "tab\there\nnewline \\ 7")
    }

    func testCopyAbortedByTheCallerLoadsNothing() throws {
        let connection = try TestDatabase.connect()
        let table = TestDatabase.uniqueName("copyabort")
        try connection.executeScript("CREATE TABLE \(table) (id bigint)")
        defer { try? connection.executeScript("DROP TABLE \(table)") }
        struct Stop: Error {}
        XCTAssertThrowsError(
            try connection.copyFrom(table: table, columns: ["id"]) { writer in
                for index in 0..<1000 { try writer.append([Int64(index)]) }
                throw Stop()
            })
        // Wrong Swift type for the column: server error, nothing loaded, connection fine.
        XCTAssertThrowsError(try connection.copyFrom(table: table, columns: ["id"]) { try $0.append([Int32(1)]) })
        XCTAssertEqual(try connection.query("SELECT count(*) FROM \(table)").scalar(Int64.self), 0)
    }

    func testBadConnectionStringsGiveClearErrorsWithoutThePassword() throws {
        let refused = PostgresConfiguration(
            conninfo: "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere", connectTimeoutSeconds: 2)
        XCTAssertThrowsError(try PostgresConnection.connect(refused)) { error in
            let error = error as! PostgresError
            XCTAssertEqual(error.kind, .connectionFailed)
            let text = "\(error)"
            XCTAssertTrue(text.contains("127.0.0.1:1"), text)
            XCTAssertTrue(text.contains("nowhere"), text)
            XCTAssertFalse(text.contains("s3cret-pw"), text)
        }
        XCTAssertThrowsError(try PostgresConnection.connect(PostgresConfiguration(conninfo: "postgresql://[bad"))) {
            XCTAssertEqual(($0 as! PostgresError).kind, .connectionFailed)
        }
        var wrongDatabase = try TestDatabase.configuration
        wrongDatabase.conninfo += wrongDatabase.conninfo.contains("?") ? "&dbname=no_such_db" : "?dbname=no_such_db"
        XCTAssertThrowsError(try PostgresConnection.connect(wrongDatabase)) { error in
            XCTAssertTrue("\(error)".contains("no_such_db"), "\(error)")
        }
        XCTAssertEqual(
            PostgresConfiguration(conninfo: "postgresql://u:pw@h/db").redactedConninfo, "postgresql://u:***@h/db")
        XCTAssertEqual(
            PostgresConfiguration(conninfo: "host=h password=pw user=u").redactedConninfo, "host=h password=*** user=u")
    }
}
