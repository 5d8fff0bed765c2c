public import PostgresClient

/// How far a payout run has got, for finance watching it: its lines, how many
/// are paid and for how much, and what is still owed (settled, not yet paid).
/// One statement for the newest runs, cheap enough to be read every few seconds.
public struct PayoutRunProgress: Sendable, Codable, Equatable {
    public var runID: Int64
    public var status: String
    public var lines: Int
    public var paidLines: Int
    public var paidFen: Int64
    public var owedFen: Int64

    static let statement = """
        SELECT r.id, r.status, count(i.id)::int8, count(i.id) FILTER (WHERE i.status = 'paid')::int8,
               COALESCE(sum(i.payable_fen) FILTER (WHERE i.status = 'paid'), 0)::int8,
               COALESCE(sum(i.payable_fen) FILTER (WHERE i.status <> 'paid'), 0)::int8
        FROM (SELECT id, status, period_start FROM platform.payout_runs ORDER BY period_start DESC LIMIT $1) AS r
        LEFT JOIN platform.payout_items AS i ON i.run_id = r.id
        GROUP BY r.id, r.status, r.period_start ORDER BY r.period_start DESC
        """

    /// The newest `limit` runs (by period), newest first.
    public static func newest(_ limit: Int, on connection: PostgresConnection) throws -> [PayoutRunProgress] {
        try connection.query(statement, [Int64(limit)]).rows.map { row in
            let (id, status, lines, paidLines, paid, owed) = try row.decode((Int64, String, Int64, Int64, Int64, Int64).self)
            return PayoutRunProgress(
                runID: id, status: status, lines: Int(lines), paidLines: Int(paidLines), paidFen: paid, owedFen: owed)
        }
    }
}
