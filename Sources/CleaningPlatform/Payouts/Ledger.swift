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

    static let findAccount = "SELECT id FROM platform.ledger_accounts WHERE code = $1"

    /// The account's id, creating a cleaner's account on first use. An account
    /// another transaction created meanwhile is found by the second look (the
    /// insert waited for it); accounts are never updated, not even by a no-op
    /// upsert (the worker role may not change them).
    static func account(_ code: String, type: String, cleanerID: Int64? = nil, on connection: PostgresConnection) throws
        -> Int64
    {
        if let id = try connection.query(findAccount, [code]).first {
            return try id.decode(0, as: Int64.self)
        }
        try connection.execute(
            "INSERT INTO platform.ledger_accounts (code, type, cleaner_id) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
            [code, type, cleanerID])
        return try connection.query(findAccount, [code]).scalar(Int64.self)
    }

    static func wallet(_ cleanerID: Int64, on connection: PostgresConnection) throws -> Int64 {
        try account(walletCode(cleanerID), type: "liability", cleanerID: cleanerID, on: connection)
    }

    static func walletCode(_ cleanerID: Int64) -> String { "cleaner:\(cleanerID):wallet" }
    static func receivableCode(_ cleanerID: Int64) -> String { "cleaner:\(cleanerID):receivable" }

    /// Many cleaners' wallet and receivable account ids, creating the accounts that
    /// do not exist yet: two statements however many cleaners.
    static func cleanerAccounts(_ cleanerIDs: [Int64], on connection: PostgresConnection) throws
        -> [Int64: (wallet: Int64, receivable: Int64)]
    {
        let codes = cleanerIDs.flatMap { [walletCode($0), receivableCode($0)] }
        try connection.execute(
            """
            INSERT INTO platform.ledger_accounts (code, type, cleaner_id)
            SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
            ON CONFLICT (code) DO NOTHING
            """, [codes, cleanerIDs.flatMap { _ in ["liability", "asset"] }, cleanerIDs.flatMap { [$0, $0] }])
        var ids: [String: Int64] = [:]
        for row in try connection.query(
            "SELECT code, id FROM platform.ledger_accounts WHERE code = ANY($1::text[])", [codes]
        ).rows {
            let (code, id) = try row.decode((String, Int64).self)
            ids[code] = id
        }
        var accounts: [Int64: (wallet: Int64, receivable: Int64)] = [:]
        for cleaner in cleanerIDs {
            guard let wallet = ids[walletCode(cleaner)], let receivable = ids[receivableCode(cleaner)] else {
                throw PostgresError(kind: .client, message: "ledger accounts of cleaner \(cleaner) were not created")
            }
            accounts[cleaner] = (wallet, receivable)
        }
        return accounts
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

    /// One transaction for `postMany`.
    struct Posting {
        var reference: String
        var description: String
        var entries: [(accountID: Int64, amountFen: Int64)]
    }

    /// Posts many transactions of one kind, 10 000 per statement (a payout run
    /// settles every cleaner at once). The rules of `post` hold: zero amounts are
    /// left out, and a reference posted before is skipped with its entries.
    /// Returns how many transactions were posted.
    @discardableResult
    static func postMany(kind: String, _ postings: [Posting], on connection: PostgresConnection) throws -> Int {
        var posted = 0
        var start = 0
        while start < postings.count {
            let chunk = postings[start..<min(start + 10_000, postings.count)]
            start += chunk.count
            var ordinals: [Int64] = [], accounts: [Int64] = [], amounts: [Int64] = []
            for (ordinal, posting) in zip(Int64(1)..., chunk) {
                for entry in posting.entries where entry.amountFen != 0 {
                    ordinals.append(ordinal)
                    accounts.append(entry.accountID)
                    amounts.append(entry.amountFen)
                }
            }
            posted += Int(try connection.query(
                """
                WITH input AS (
                    SELECT * FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(reference, description, ordinal)
                ), posted AS (
                    INSERT INTO platform.ledger_transactions (kind, reference, description)
                    SELECT $1, reference, description FROM input ORDER BY ordinal
                    ON CONFLICT (reference) DO NOTHING
                    RETURNING id, reference
                ), entries AS (
                    INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen)
                    SELECT p.id, e.account_id, e.amount_fen
                    FROM unnest($4::int8[], $5::int8[], $6::int8[]) AS e(ordinal, account_id, amount_fen)
                    JOIN input AS i ON i.ordinal = e.ordinal
                    JOIN posted AS p ON p.reference = i.reference
                )
                SELECT count(*)::int8 FROM posted
                """, [kind, chunk.map(\.reference), chunk.map(\.description), ordinals, accounts, amounts]
            ).scalar(Int64.self))
        }
        return posted
    }
}
