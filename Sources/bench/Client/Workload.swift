import BenchSupport
import PostgresClient
import SeededRandom

/// One statement measured twice: as a pgbench custom script and as a call through
/// the wrapper. Both sides draw their parameters at random the same way and run one
/// statement (one implicit transaction) per step.
struct Workload: Sendable {
    let name: String
    /// What the workload runs, for the report.
    let summary: String
    /// The pgbench custom script (`-f`); `:name` variables become `$n` parameters
    /// under `-M prepared`.
    let pgbenchScript: String
    /// Extra pgbench variables, passed as `-D name=value`.
    let pgbenchVariables: [String: String]
    /// One step through the wrapper, on the measuring connection.
    let step: @Sendable (PostgresConnection, inout SeededRandom) throws -> Void
}

extension Workload {
    // The SQL is built once: interpolating it inside `step` would add a string
    // allocation per call to the wrapper's side of the measurement.
    static let selectSQL = "SELECT v FROM \(BenchTables.keyValue) WHERE id = $1"
    static let insertSQL = "INSERT INTO \(BenchTables.insert) (k, v) VALUES ($1, $2)"

    static let select = Workload(
        name: "select",
        summary: "\(selectSQL) (random id, \(BenchTables.keyValueRows) rows)",
        pgbenchScript: """
            \\set id random(1, \(BenchTables.keyValueRows))
            SELECT v FROM \(BenchTables.keyValue) WHERE id = :id;

            """,
        pgbenchVariables: [:],
        step: { connection, random in
            let id = Int64.random(in: 1...Int64(BenchTables.keyValueRows), using: &random)
            let result = try connection.query(selectSQL, [id])
            guard let row = result.first else {
                throw BenchFailure("select workload: no row for id \(id) in \(BenchTables.keyValue)")
            }
            _ = try row.decode(0, as: String.self)
        })

    static let insertPayload = "pg-bench-payload-0123456789"

    static let insert = Workload(
        name: "insert",
        summary: "\(insertSQL) (random k, fixed text v)",
        pgbenchScript: """
            \\set k random(1, 1000000000)
            INSERT INTO \(BenchTables.insert) (k, v) VALUES (:k, :v);

            """,
        pgbenchVariables: ["v": insertPayload],
        step: { connection, random in
            let k = Int64.random(in: 1...1_000_000_000, using: &random)
            let inserted = try connection.execute(insertSQL, [k, insertPayload])
            guard inserted == 1 else {
                throw BenchFailure("insert workload: the server reported \(inserted) rows inserted, expected 1")
            }
        })

    static let all = [select, insert]
}
