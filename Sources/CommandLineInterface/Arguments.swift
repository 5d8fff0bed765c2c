public import Foundation

/// The arguments of one command, consumed as the command reads them.
///
/// A command asks for its options by name (`option("--queue")`), then calls
/// `finish()`, which rejects anything left over — so a typo is an error that names
/// the unknown option instead of being silently ignored.
public struct Arguments: Sendable {
    private var items: [String]
    /// The command path for messages, e.g. "jobsctl jobs list".
    public let commandName: String
    /// The command's options that take a value: the word after one is its value, never
    /// a positional argument — else `queues limit Q --database-url URL` would read the
    /// URL, password and all, as the limit and echo it in the error.
    private let valueOptions: Set<String>

    public init(_ items: [String], commandName: String, valueOptions: Set<String> = []) {
        self.items = items
        self.commandName = commandName
        self.valueOptions = valueOptions
    }

    /// The program, the first word of `commandName` ("jobsctl").
    public var programName: String { String(commandName.prefix { $0 != " " }) }

    public var isEmpty: Bool { items.isEmpty }
    public var wantsHelp: Bool { items.contains("--help") || items.contains("-h") }

    /// True when `--name` is present (removes it).
    public mutating func flag(_ name: String) -> Bool {
        guard let index = items.firstIndex(of: name) else { return false }
        items.remove(at: index)
        return true
    }

    /// The value of `--name VALUE` or `--name=VALUE`, the last one if repeated.
    public mutating func option(_ name: String) throws -> String? {
        try options(name).last
    }

    /// Every value of a repeatable option (`--tag a --tag b`).
    public mutating func options(_ name: String) throws -> [String] {
        var values: [String] = []
        var index = 0
        while index < items.count {
            let item = items[index]
            if item == name {
                guard index + 1 < items.count, !items[index + 1].hasPrefix("--") else {
                    throw CommandError.usage("\(name) needs a value", command: commandName)
                }
                values.append(items[index + 1])
                items.removeSubrange(index...(index + 1))
            } else if item.hasPrefix(name + "=") {
                values.append(String(item.dropFirst(name.count + 1)))
                items.remove(at: index)
            } else {
                index += 1
            }
        }
        return values
    }

    /// A whole-number option that must lie in `range`: `try arguments.integer("--limit", in: 1...10_000)`.
    ///
    /// There is deliberately no accessor without a range: every number a command
    /// takes has a meaningful span, and checking it here (ASCII digits only, no
    /// spaces, `+`, exponents or values too large for `Int`) keeps a bad value from
    /// trapping or reaching the server later.
    public mutating func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = try option(name) else { return nil }
        return try integer(text, named: name, in: range)
    }

    /// A positional or list item read as a whole number in `range`, with the same rules as `integer(_:in:)`.
    public func integer(_ text: String, named name: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = StrictNumber.integer(text), range.contains(value) else {
            throw CommandError.usage(
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"",
                command: commandName)
        }
        return value
    }

    /// A duration option in seconds (decimals allowed: `0.5`) that must lie in `range`.
    /// NaN, infinities, exponents and out-of-range values are usage errors.
    public mutating func seconds(_ name: String, in range: ClosedRange<Double>) throws -> Duration? {
        guard let text = try option(name) else { return nil }
        return try seconds(text, named: name, in: range)
    }

    /// A positional read as seconds, with the same rules as `seconds(_:in:)`.
    public func seconds(_ text: String, named name: String, in range: ClosedRange<Double>) throws -> Duration {
        guard let value = StrictNumber.decimal(text), range.contains(value) else {
            throw CommandError.usage(
                "\(name) must be a number of seconds from \(StrictNumber.format(range.lowerBound)) to "
                    + "\(StrictNumber.format(range.upperBound)), got \"\(text)\"", command: commandName)
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// A point in time: an ISO 8601 time with its zone (`2026-11-23T10:00:00+08:00`),
    /// validated rather than normalised, or — when `delaySign` is given — a delay
    /// from now in that direction such as `+10m` (`s`, `m`, `h`, `d`; at most 3660 days).
    public mutating func time(_ name: String, delaySign: Character? = nil, now: Date = Date()) throws -> Date? {
        guard let text = try option(name) else { return nil }
        if let delaySign, text.first == delaySign {
            guard let delay = StrictTimestamp.delay(text.dropFirst()) else {
                throw CommandError.usage(
                    "\(name) \"\(text)\" is not a delay like \(delaySign)30s, \(delaySign)10m, \(delaySign)2h or "
                        + "\(delaySign)1d (at most 3660 days)", command: commandName)
            }
            return now.addingTimeInterval(delaySign == "-" ? -delay : delay)
        }
        guard let date = StrictTimestamp.parse(text) else {
            let delays = delaySign.map { " or a delay like \($0)10m" } ?? ""
            throw CommandError.usage(
                "\(name) \"\(text)\" is not an ISO 8601 time with a zone such as 2026-11-23T10:00:00+08:00"
                    + " (a real date and time, years 1970 to 9999)\(delays)", command: commandName)
        }
        return date
    }

    /// The next positional argument, or nil when none is left.
    public mutating func positional() -> String? {
        var index = 0
        while index < items.count {
            let item = items[index]
            if item == "--" {
                items.remove(at: index)
                return index < items.count ? items.remove(at: index) : nil
            }
            if item.hasPrefix("--") {
                index += valueOptions.contains(item) ? 2 : 1
                continue
            }
            return items.remove(at: index)
        }
        return nil
    }

    /// A positional argument that must be there.
    public mutating func required(_ what: String) throws -> String {
        guard let value = positional() else {
            throw CommandError.usage("missing \(what)", command: commandName)
        }
        return value
    }

    /// Fails on anything the command did not read.
    public func finish() throws {
        guard let first = items.first else { return }
        if first.hasPrefix("-") {
            throw CommandError.usage("unknown option \(first)", command: commandName)
        }
        throw CommandError.usage("unexpected argument \"\(first)\"", command: commandName)
    }
}
