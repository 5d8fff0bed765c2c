import PostgresClient

/// Posts balanced transactions to the double-entry ledger. Each transaction has
/// a unique reference ("settlement:42"), so posting the same fact twice fails
/// instead of counting money twice; the database refuses any transaction whose
/// entries do not sum to zero at commit.
enum Ledger {
    struct Entry {
        var account: String
        /// Debit positive, credit negative.
        var amountFen: Int64
    }

    /// The account's id, creating a cleaner's account on first use.
    static func account(_ code: String, type: String, cleanerID: Int64? = nil, on connection: PostgresConnection) throws
        -> Int64
    {
        if let id = try connection.query("SELECT id FROM platform.ledger_accounts WHERE code = $1", [code]).first {
            return try id.decode(0, as: Int64.self)
        }
        return try connection.query(
            """
            INSERT INTO platform.ledger_accounts (code, type, cleaner_id) VALUES ($1, $2, $3)
            ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code
            RETURNING id
            """, [code, type, cleanerID]
        ).scalar(Int64.self)
    }

    static func wallet(_ cleanerID: Int64, on connection: PostgresConnection) throws -> Int64 {
        try account("cleaner:\(cleanerID):wallet", type: "liability", cleanerID: cleanerID, on: connection)
    }

    static func receivable(_ cleanerID: Int64, on connection: PostgresConnection) throws -> Int64 {
        try account("cleaner:\(cleanerID):receivable", type: "asset", cleanerID: cleanerID, on: connection)
    }

    /// Posts one transaction; zero amounts are left out. Returns false when a
    /// transaction with this reference already exists (nothing is posted again).
    @discardableResult
    static func post(
        kind: String, reference: String, description: String, entries: [(accountID: Int64, amountFen: Int64)],
        on connection: PostgresConnection
    ) throws -> Bool {
        let nonZero = entries.filter { $0.amountFen != 0 }
        guard let transaction = try connection.query(
            """
            INSERT INTO platform.ledger_transactions (kind, reference, description) VALUES ($1, $2, $3)
            ON CONFLICT (reference) DO NOTHING RETURNING id
            """, [kind, reference, description]
        ).first?.decode(0, as: Int64.self) else { return false }
        guard !nonZero.isEmpty else { return true }
        try connection.execute(
            """
            INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen)
            SELECT $1, account_id, amount FROM unnest($2::int8[], $3::int8[]) AS e(account_id, amount)
            """, [transaction, nonZero.map(\.accountID), nonZero.map(\.amountFen)])
        return true
    }
}
