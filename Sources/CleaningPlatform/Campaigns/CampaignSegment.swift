public import Foundation
import JobQueue
public import PostgresClient

/// Which customers a campaign targets: a closed set of typed criteria, all of
/// which must hold. Stored as JSON (`platform.campaigns.segment`, checked on write
/// by `platform.campaign_segment_problem`) and compiled into a parameterized
/// condition on the customers table: the criteria's values are parameters, never
/// text in the statement.
public struct CampaignSegment: Sendable, Equatable {
    /// Member tier names (`platform.member_tiers.name`), any of them.
    public var tiers: [String]?
    /// Cities the customer has had an order served in, any of them.
    public var cities: [String]?
    /// Customers who ordered before, but not in the last this many days.
    public var lastOrderOlderThanDays: Int?
    /// Whether the customer holds a coupon that is active and not yet ended.
    public var hasUnusedCoupon: Bool?

    public init(tiers: [String]? = nil, cities: [String]? = nil, lastOrderOlderThanDays: Int? = nil, hasUnusedCoupon: Bool? = nil) {
        self.tiers = tiers
        self.cities = cities
        self.lastOrderOlderThanDays = lastOrderOlderThanDays
        self.hasUnusedCoupon = hasUnusedCoupon
    }

    /// The JSON names of the criteria, as stored.
    public enum Field: String, CaseIterable, Sendable {
        case tiers, cities
        case lastOrderOlderThanDays = "last_order_older_than_days"
        case hasUnusedCoupon = "has_unused_coupon"
    }

    /// A segment that cannot be used, in words an operator can act on.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Reads a segment from its JSON text, refusing unknown fields, values of the
    /// wrong type and blank names (the same rules as the database's check).
    public init(json: String) throws(Problem) {
        guard let object = try? JSONDecoder().decode([String: Value].self, from: Data(json.utf8)) else {
            throw Problem(description: "the segment is not a JSON object of criteria, e.g. {\"tiers\": [\"黄金\"]}")
        }
        let known = Field.allCases.map(\.rawValue).joined(separator: ", ")
        for key in object.keys.sorted() where Field(rawValue: key) == nil {
            throw Problem(description: "unknown segment field \"\(key)\"; known: \(known)")
        }
        func names(_ field: Field) throws(Problem) -> [String]? {
            guard let value = object[field.rawValue] else { return nil }
            guard case .names(let list) = value, !list.isEmpty, !list.contains(where: { UnicodeText.isBlank($0) }) else {
                throw Problem(description: "\(field.rawValue) is a non-empty list of names, e.g. [\"上海\"]")
            }
            return list
        }
        tiers = try names(.tiers)
        cities = try names(.cities)
        if let value = object[Field.lastOrderOlderThanDays.rawValue] {
            guard case .number(let days) = value, days == days.rounded(), (1...3650).contains(days) else {
                throw Problem(description: "\(Field.lastOrderOlderThanDays.rawValue) is a whole number of days from 1 to 3650")
            }
            lastOrderOlderThanDays = Int(days)
        }
        if let value = object[Field.hasUnusedCoupon.rawValue] {
            guard case .flag(let flag) = value else {
                throw Problem(description: "\(Field.hasUnusedCoupon.rawValue) is true or false")
            }
            hasUnusedCoupon = flag
        }
    }

    /// A criterion's JSON value, by its JSON type.
    private enum Value: Decodable {
        case flag(Bool), number(Double), names([String]), other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .flag(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let names = try? container.decode([String].self) {
                self = .names(names)
            } else {
                self = .other
            }
        }
    }

    /// The segment as stored: only the criteria given, keys sorted.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(Stored(self)), as: UTF8.self)
    }

    /// The stored form's keys (absent criteria are left out).
    private struct Stored: Encodable {
        let segment: CampaignSegment

        init(_ segment: CampaignSegment) {
            self.segment = segment
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeIfPresent(segment.tiers, forKey: Key(.tiers))
            try container.encodeIfPresent(segment.cities, forKey: Key(.cities))
            try container.encodeIfPresent(segment.lastOrderOlderThanDays, forKey: Key(.lastOrderOlderThanDays))
            try container.encodeIfPresent(segment.hasUnusedCoupon, forKey: Key(.hasUnusedCoupon))
        }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ field: Field) { stringValue = field.rawValue }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    /// A condition on `platform.customers AS c` and its parameters, numbered from
    /// `firstParameter`; `now` and `calendar` fix "N days ago" (business days) and
    /// "not yet ended". No criteria: every customer (`true`).
    public func compile(
        firstParameter: Int, now: Date, calendar: BusinessCalendar
    ) -> (condition: String, parameters: [any PostgresEncodable]) {
        var conditions: [String] = []
        var parameters: [any PostgresEncodable] = []
        func next(_ value: any PostgresEncodable) -> String {
            parameters.append(value)
            return "$\(firstParameter + parameters.count - 1)"
        }
        if let tiers {
            conditions.append("c.tier_id IN (SELECT t.id FROM platform.member_tiers AS t WHERE t.name = ANY(\(next(tiers))::text[]))")
        }
        if let cities {
            conditions.append(
                "EXISTS (SELECT 1 FROM platform.orders AS o WHERE o.customer_id = c.id AND o.city = ANY(\(next(cities))::text[]))")
        }
        if let lastOrderOlderThanDays {
            // Has ordered (max is not NULL) and the latest order is before the cutoff.
            conditions.append(
                "(SELECT max(o.created_at) FROM platform.orders AS o WHERE o.customer_id = c.id) < \(next(calendar.adding(days: -lastOrderOlderThanDays, to: now)))::timestamptz")
        }
        if let hasUnusedCoupon {
            let exists = """
                EXISTS (SELECT 1 FROM platform.coupons AS p WHERE p.customer_id = c.id AND p.status = 'active' \
                AND p.valid_until > \(next(now))::timestamptz)
                """
            conditions.append(hasUnusedCoupon ? exists : "NOT \(exists)")
        }
        return (conditions.isEmpty ? "true" : conditions.joined(separator: " AND "), parameters)
    }
}
