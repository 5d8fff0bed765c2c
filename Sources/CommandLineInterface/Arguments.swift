/// The arguments of one command, consumed as the command reads them.
///
/// A command asks for its options by name (`option("--queue")`), then calls
/// `finish()`, which rejects anything left over — so a typo is an error that names
/// the unknown option instead of being silently ignored.
public struct Arguments: Sendable {
    private var items: [String]
    /// The command path for messages, e.g. "jobsctl jobs list".
    public let commandName: String

    public init(_ items: [String], commandName: String) {
        self.items = items
        self.commandName = commandName
    }

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

    /// A typed option: `try arguments.option("--limit", as: Int.self)`.
    public mutating func option<T: LosslessStringConvertible>(_ name: String, as _: T.Type) throws -> T? {
        guard let text = try option(name) else { return nil }
        guard let value = T(text) else {
            throw CommandError.usage("\(name) must be \(Self.describe(T.self)), got \"\(text)\"", command: commandName)
        }
        return value
    }

    /// The next positional argument, or nil when none is left.
    public mutating func positional() -> String? {
        guard let index = items.firstIndex(where: { !$0.hasPrefix("--") || $0 == "--" }) else { return nil }
        if items[index] == "--" {
            items.remove(at: index)
            return index < items.count ? items.remove(at: index) : nil
        }
        return items.remove(at: index)
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

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
        case is Double.Type: "a number"
        default: "a \(type)"
        }
    }
}
