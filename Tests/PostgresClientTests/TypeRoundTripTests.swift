import Foundation
import PostgresClient
import TestSupport
import XCTest

final class TypeRoundTripTests: XCTestCase {
    private func roundTrip<T: PostgresEncodable & PostgresDecodable & Equatable>(
        _ value: T, cast: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let connection = try TestDatabase.connect()
        let back = try connection.query("SELECT $1::\(cast) AS v", [value]).scalar(T.self)
        XCTAssertEqual(back, value, "round trip through \(cast)", file: file, line: line)
    }

    func testScalarsRoundTrip() throws {
        try roundTrip(true, cast: "bool")
        try roundTrip(false, cast: "bool")
        for value: Int16 in [.min, -1, 0, 1, .max] { try roundTrip(value, cast: "int2") }
        for value: Int32 in [.min, -1, 0, 42, .max] { try roundTrip(value, cast: "int4") }
        for value: Int64 in [.min, -1, 0, 9_007_199_254_740_993, .max] { try roundTrip(value, cast: "int8") }
        for value in [0.0, -1.5, 3.141592653589793, .greatestFiniteMagnitude, -.infinity] {
            try roundTrip(value, cast: "float8")
        }
        for value in ["", "plain", "日常保洁 · 深度保洁", "emoji 🧹🧽", "quote ' and \\ backslash", "tab\tnew\nline"] {
            try roundTrip(value, cast: "text")
        }
        try roundTrip(UUID(), cast: "uuid")
        try roundTrip(Data(), cast: "bytea")
        try roundTrip(Data([0, 1, 2, 255, 0]), cast: "bytea")
    }

    func testLargeByteaRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        let payload = Data((0..<(4 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try roundTrip(payload, cast: "bytea")
    }

    func testTimestampsKeepMicroseconds() throws {
        let connection = try TestDatabase.connect()
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let back = try connection.query("SELECT $1::timestamptz", [date]).scalar(Date.self)
        XCTAssertEqual(back.timeIntervalSince1970, date.timeIntervalSince1970, accuracy: 0.000001)
        let pre2000 = Date(timeIntervalSince1970: -86_400 * 365.25 * 40)
        let backOld = try connection.query("SELECT $1::timestamptz", [pre2000]).scalar(Date.self)
        XCTAssertEqual(backOld.timeIntervalSince1970, pre2000.timeIntervalSince1970, accuracy: 0.000001)
        // Server-computed value agrees with ours.
        let epoch = try connection.query("SELECT timestamptz '2026-01-01 00:00:00+08'").scalar(Date.self)
        XCTAssertEqual(epoch.timeIntervalSince1970, 1_767_196_800)
        XCTAssertEqual(try connection.query("SELECT 'infinity'::timestamptz").scalar(Date.self), .distantFuture)
    }

    func testNullsDecodeAsOptionalAndFailAsNonOptional() throws {
        let connection = try TestDatabase.connect()
        let result = try connection.query("SELECT $1::int8 AS a, $2::text AS b", [Int64?.none, String?.none])
        let row = try XCTUnwrap(result.first)
        XCTAssertNil(try row.decode("a", as: Int64?.self))
        XCTAssertNil(try row.decode("b", as: String?.self))
        XCTAssertThrowsError(try row.decode("a", as: Int64.self)) { error in
            XCTAssertTrue("\(error)".contains("\"a\" is NULL"), "\(error)")
        }
        let some = try connection.query("SELECT $1::int8", [Int64?.some(7)]).scalar(Int64?.self)
        XCTAssertEqual(some, 7)
    }

    func testArrayLiteralsParseBackToTheSameElements() throws {
        let connection = try TestDatabase.connect()
        let awkward = [
            "", "plain", "b c", "comma,inside", "{braces}", "quote \" inside", "back\\slash", "NULL", "null",
            " padded ", "tab\tnew\nline", "日常保洁 🧹",
        ]
        for elements in [[], ["one"], awkward] {
            let back = try connection.query("SELECT $1::text::text[]", [PostgresArrayLiteral.text(elements)])
                .scalar([String].self)
            XCTAssertEqual(back, elements)
        }
        let numbers: [Int64] = [.min, -1, 0, 42, .max]
        let parsed = try connection.query("SELECT $1::text::int8[]", [PostgresArrayLiteral.integers(numbers)])
            .scalar([Int64].self)
        XCTAssertEqual(parsed, numbers)
    }

    func testArraysRoundTrip() throws {
        let connection = try TestDatabase.connect()
        let numbers: [Int64] = [1, -2, .max, 0]
        XCTAssertEqual(try connection.query("SELECT $1::int8[]", [numbers]).scalar([Int64].self), numbers)
        let words = ["a", "", "保洁", "with,comma", "with\"quote"]
        XCTAssertEqual(try connection.query("SELECT $1::text[]", [words]).scalar([String].self), words)
        XCTAssertEqual(try connection.query("SELECT $1::text[]", [[String]()]).scalar([String].self), [])
        let withNull = try connection.query("SELECT ARRAY['x', NULL]::text[]").scalar([String?].self)
        XCTAssertEqual(withNull, ["x", nil])
        XCTAssertThrowsError(try connection.query("SELECT ARRAY['x', NULL]::text[]").scalar([String].self))
    }

    struct Payload: Codable, Equatable, Sendable {
        var name: String
        var amountFen: Int64
        var tags: [String]
        var note: String?
    }

    func testJSONRoundTripsThroughJsonbAndJson() throws {
        let connection = try TestDatabase.connect()
        let value = Payload(name: "张三 \"quoted\"", amountFen: 12_345, tags: ["a", "b"], note: nil)
        let back = try connection.query("SELECT $1::jsonb", [PostgresJSON(value)]).scalar(PostgresJSON<Payload>.self)
        XCTAssertEqual(back.value, value)
        let asJSON = try connection.query("SELECT $1::jsonb::json", [PostgresJSON(value)])
            .scalar(PostgresJSON<Payload>.self)
        XCTAssertEqual(asJSON.value, value)
        let field = try connection.query("SELECT ($1::jsonb)->>'name'", [PostgresJSON(value)]).scalar(String.self)
        XCTAssertEqual(field, value.name)
    }

    func testWrongTypeDecodingThrowsNamingTheColumn() throws {
        let connection = try TestDatabase.connect()
        let row = try XCTUnwrap(try connection.query("SELECT 'abc'::text AS label, 5::int4 AS n, 70000::int4 AS big").first)
        XCTAssertThrowsError(try row.decode("label", as: Int64.self)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\"label\"") && text.contains("text"), text)
        }
        XCTAssertThrowsError(try row.decode("n", as: UUID.self))
        XCTAssertThrowsError(try row.decode("big", as: Int16.self)) { error in
            XCTAssertTrue("\(error)".contains("does not fit"), "\(error)")
        }
        XCTAssertThrowsError(try row.decode("missing", as: Int64.self)) { error in
            XCTAssertTrue("\(error)".contains("no column \"missing\""), "\(error)")
        }
        XCTAssertEqual(try row.decode("n", as: Int64.self), 5)
        XCTAssertThrowsError(try connection.query("SELECT '{\"a\":1}'::jsonb").scalar(PostgresJSON<Payload>.self))
    }

    func testNumericAndTupleDecoding() throws {
        let connection = try TestDatabase.connect()
        let row = try XCTUnwrap(
            try connection.query(
                "SELECT sum(x) AS total, 12345.678::numeric AS exact, -0.05::numeric AS small, 'id' AS label "
                    + "FROM (VALUES (9000000000::int8), (1::int8)) t(x)"
            ).first)
        XCTAssertEqual(try row.decode("total", as: Int64.self), 9_000_000_001)
        XCTAssertEqual(try row.decode("exact", as: String.self), "12345.678")
        XCTAssertEqual(try row.decode("small", as: String.self), "-0.05")
        XCTAssertEqual(try row.decode("exact", as: Double.self), 12345.678, accuracy: 1e-9)
        XCTAssertThrowsError(try row.decode("exact", as: Int64.self))
        let (total, exact, _, label) = try row.decode((Int64, String, String, String).self)
        XCTAssertEqual(total, 9_000_000_001)
        XCTAssertEqual(exact, "12345.678")
        XCTAssertEqual(label, "id")
    }

    func testParametersCannotInjectSQL() throws {
        let connection = try TestDatabase.connect()
        let table = TestDatabase.uniqueName("injection")
        try connection.executeScript("CREATE TABLE \(table) (id serial PRIMARY KEY, name text NOT NULL)")
        defer { try? connection.executeScript("DROP TABLE \(table)") }
        let hostile = [
            "'; DROP TABLE \(table); --", "\\'; SELECT 1; --", "$1", "' OR '1'='1", "a\u{1}b",
        ]
        for value in hostile {
            try connection.query("INSERT INTO \(table) (name) VALUES ($1)", [value])
        }
        let stored = try connection.query("SELECT name FROM \(table) ORDER BY id").rows.map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(stored, hostile)
        let matches = try connection.query("SELECT count(*) FROM \(table) WHERE name = $1", ["' OR '1'='1"])
            .scalar(Int64.self)
        XCTAssertEqual(matches, 1)
        // Several statements in one parameterized call are refused by the server.
        XCTAssertThrowsError(try connection.query("SELECT 1; SELECT 2"))
        // NUL bytes cannot be stored in text: a clear server error, not truncation.
        XCTAssertThrowsError(try connection.query("SELECT $1::text", ["a\u{0}b"])) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .server, "\(error)")
        }
    }
}
