import BenchSupport
import PostgresClient

/// The benchmark's own tables: created at the start, dropped at the end. A table
/// left behind by an interrupted run is recognised by its comment and replaced; a
/// table of the same name that bench client did not create is never touched.
enum BenchTables {
    static let keyValue = "swift_pg_bench_kv"
    static let insert = "swift_pg_bench_insert"
    /// Rows in the key-value table; the select workload picks ids from 1...keyValueRows.
    static let keyValueRows = 10_000
    static let marker = "created by bench client; safe to drop"

    static func create(on connection: PostgresConnection) throws {
        for table in [keyValue, insert] {
            try dropIfOurs(table, on: connection)
        }
        // The insert table is UNLOGGED, for both pgbench and the wrapper: commits then
        // do not wait for a WAL flush, so the rates show client and round-trip cost
        // rather than the disk's fsync latency (which would hide client overhead).
        try connection.executeScript(
            """
            CREATE TABLE \(keyValue) (id bigint PRIMARY KEY, v text NOT NULL);
            INSERT INTO \(keyValue) (id, v)
                SELECT g, 'value-' || g FROM generate_series(1, \(keyValueRows)) AS g;
            CREATE UNLOGGED TABLE \(insert) (k bigint NOT NULL, v text NOT NULL);
            COMMENT ON TABLE \(keyValue) IS '\(marker)';
            COMMENT ON TABLE \(insert) IS '\(marker)';
            ANALYZE \(keyValue);
            """)
    }

    static func drop(on connection: PostgresConnection) throws {
        try connection.executeScript("DROP TABLE IF EXISTS \(keyValue), \(insert)")
    }

    static func insertedRows(on connection: PostgresConnection) throws -> Int64 {
        try connection.query("SELECT count(*) FROM \(insert)").scalar(Int64.self)
    }

    private static func dropIfOurs(_ table: String, on connection: PostgresConnection) throws {
        let result = try connection.query(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.oid = to_regclass($1)", [table])
        guard let row = result.first else { return }
        guard try row.decode(0, as: String?.self) == marker else {
            throw BenchFailure(
                "table \(table) already exists and was not created by bench client",
                hint: "run bench client against a database where that name is free, or drop the table yourself")
        }
        try connection.executeScript("DROP TABLE \(table)")
        Output.line("note: dropped \(table) left behind by an earlier, interrupted run")
    }
}
