/// Why a cron expression was rejected, naming the field and the token so the
/// person who wrote the schedule can fix it without reading the parser.
public struct CronParseError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The cron fields, named as error messages name them.
    public enum Field: String, Sendable {
        case second
        case minute
        case hour
        case dayOfMonth = "day-of-month"
        case month
        case dayOfWeek = "day-of-week"
    }

    /// The field holding the bad token; nil when the expression as a whole is wrong
    /// (wrong number of fields, unknown macro).
    public let field: Field?
    /// The offending text: a token, a list element, or the whole expression.
    public let token: String
    /// What is wrong, token included, e.g. `61 is out of range 0–59`.
    public let reason: String

    public init(field: Field?, token: String, reason: String) {
        self.field = field
        self.token = token
        self.reason = reason
    }

    public var description: String {
        guard let field else { return reason }
        return "\(field.rawValue) field: \(reason)"
    }
}

/// One parsed field: its allowed values as a bitmask, so matching is a bit test
/// and "next allowed value" is a count of trailing zeros instead of a scan.
struct CronField: Sendable, Equatable {
    typealias Kind = CronParseError.Field

    /// Bit `v` is set when value `v` is allowed (all fields fit in 0...59).
    let bits: UInt64
    /// The field's text began with `*`. Vixie cron keys its day-of-month /
    /// day-of-week rule on exactly this, so `*/2` counts as unrestricted.
    let isWildcard: Bool

    init(bits: UInt64, isWildcard: Bool) {
        self.bits = bits
        self.isWildcard = isWildcard
    }

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    /// The smallest allowed value that is `>= value`, or nil when none is left.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let remaining = bits & (~UInt64(0) << UInt64(max(value, 0)))
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }
}

extension CronParseError.Field {
    /// Values a number in this field may take. Day-of-week admits 7 as Sunday.
    var bounds: ClosedRange<Int> {
        switch self {
        case .second, .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// What `*` expands to (day-of-week stops at 6 so Sunday is not set twice).
    var wildcardBounds: ClosedRange<Int> {
        self == .dayOfWeek ? 0...6 : bounds
    }

    /// Three-letter names, lowercased, mapped to their numbers.
    var names: [String: Int] {
        switch self {
        case .month:
            [
                "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
            ]
        case .dayOfWeek:
            ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
        default:
            [:]
        }
    }
}

extension CronField {
    /// Parses one field: a comma list of `*`, `n`, `a-b`, each optionally `/step`.
    /// `n/step` means `n` through the field's maximum (a common extension).
    static func parse(_ text: Substring, as kind: Kind) throws(CronParseError) -> CronField {
        var bits: UInt64 = 0
        for element in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !element.isEmpty else {
                throw CronParseError(field: kind, token: String(text), reason: "empty list element in \"\(text)\"")
            }
            let parts = element.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw CronParseError(
                    field: kind, token: String(element), reason: "\"\(element)\" has more than one step")
            }
            let step = parts.count == 2 ? try parseStep(parts[1], in: element, as: kind) : 1
            let base = parts[0]
            let range: ClosedRange<Int>
            if base == "*" {
                range = kind.wildcardBounds
            } else if let dash = base.firstIndex(of: "-") {
                let lowText = base[..<dash]
                let highText = base[base.index(after: dash)...]
                guard !lowText.isEmpty, !highText.isEmpty, !highText.contains("-") else {
                    throw CronParseError(field: kind, token: String(base), reason: "\"\(base)\" is not a valid range")
                }
                let low = try parseValue(lowText, as: kind)
                let high = try parseValue(highText, as: kind)
                guard low <= high else {
                    throw CronParseError(field: kind, token: String(base), reason: "range \(base) is reversed")
                }
                range = low...high
            } else {
                let value = try parseValue(base, as: kind)
                range = parts.count == 2 ? value...kind.bounds.upperBound : value...value
            }
            for value in stride(from: range.lowerBound, through: range.upperBound, by: step) {
                let normalized = kind == .dayOfWeek && value == 7 ? 0 : value
                bits |= 1 << UInt64(normalized)
            }
        }
        return CronField(bits: bits, isWildcard: text.hasPrefix("*"))
    }

    private static func parseStep(_ text: Substring, in element: Substring, as kind: Kind) throws(CronParseError)
        -> Int
    {
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit) else {
            throw CronParseError(
                field: kind, token: String(text), reason: "step \"\(text)\" in \"\(element)\" is not a number")
        }
        let step = Int(text) ?? Int.max
        guard step >= 1 else {
            throw CronParseError(
                field: kind, token: String(text), reason: "step 0 in \"\(element)\" must be at least 1")
        }
        return step
    }

    private static func parseValue(_ text: Substring, as kind: Kind) throws(CronParseError) -> Int {
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            // Overflowing digit strings are simply out of range.
            let value = Int(text) ?? Int.max
            let bounds = kind.bounds
            guard bounds.contains(value) else {
                throw CronParseError(
                    field: kind, token: String(text),
                    reason: "\(text) is out of range \(bounds.lowerBound)–\(bounds.upperBound)")
            }
            return value
        }
        if let value = kind.names[text.lowercased()] { return value }
        let expected =
            switch kind {
            case .month: "a number or month name (jan–dec)"
            case .dayOfWeek: "a number or day name (sun–sat)"
            default: "a number"
            }
        throw CronParseError(field: kind, token: String(text), reason: "\"\(text)\" is not \(expected)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { asciiValue.map { (0x30...0x39).contains($0) } ?? false }
}
