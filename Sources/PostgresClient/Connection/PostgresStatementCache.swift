/// The names of one connection's prepared statements, by SQL text and parameter types.
///
/// A few most recently used entries sit in front of the dictionary: code that runs
/// the same handful of statements in a loop finds them by `==`, which is an identity
/// check when the SQL is the same string (a literal, say), instead of hashing the
/// whole SQL text on every call.
struct PostgresStatementCache {
    private struct Key: Hashable {
        let sql: String
        let types: [PostgresDataType]
    }

    private var names: [Key: String] = [:]
    private var recent: [(key: Key, name: String)] = []
    /// Where the next entry goes in `recent` once it is full (oldest first).
    private var nextRecentSlot = 0
    static let recentLimit = 4

    var count: Int { names.count }

    mutating func name(sql: String, types: [PostgresDataType]) -> String? {
        for entry in recent where entry.key.sql == sql && entry.key.types == types {
            return entry.name
        }
        let key = Key(sql: sql, types: types)
        guard let name = names[key] else { return nil }
        remember(key, name)
        return name
    }

    mutating func insert(_ name: String, sql: String, types: [PostgresDataType]) {
        let key = Key(sql: sql, types: types)
        names[key] = name
        remember(key, name)
    }

    mutating func remove(sql: String, types: [PostgresDataType]) {
        let key = Key(sql: sql, types: types)
        names.removeValue(forKey: key)
        recent.removeAll { $0.key == key }
        nextRecentSlot = 0
    }

    mutating func removeAll() {
        names.removeAll()
        recent.removeAll()
        nextRecentSlot = 0
    }

    private mutating func remember(_ key: Key, _ name: String) {
        if recent.count < Self.recentLimit {
            recent.append((key, name))
        } else {
            recent[nextRecentSlot] = (key, name)
            nextRecentSlot = (nextRecentSlot + 1) % Self.recentLimit
        }
    }
}
