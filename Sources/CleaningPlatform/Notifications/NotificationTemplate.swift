/// A message template with `{name}` placeholders.
public struct NotificationTemplate: Sendable, Equatable {
    public enum Category: String, Sendable {
        case verification, notice, marketing
    }

    public var code: String
    public var channel: OutgoingMessage.Channel
    public var category: Category
    public var body: String
    public var validityMinutes: Int

    public init(code: String, channel: OutgoingMessage.Channel, category: Category, body: String, validityMinutes: Int) {
        self.code = code
        self.channel = channel
        self.category = category
        self.body = body
        self.validityMinutes = validityMinutes
    }

    public struct MissingParameter: Error, Equatable, CustomStringConvertible {
        public var name: String
        public var template: String
        public var description: String { "template \(template) needs parameter \"\(name)\", which was not given" }
    }

    /// Replaces every `{name}` with its parameter; a placeholder without a value is
    /// an error (a message with a hole in it must not go out).
    public func render(_ parameters: [String: String]) throws -> String {
        var output = ""
        var rest = Substring(body)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                output += rest[open...]
                return output
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard let value = parameters[name] else { throw MissingParameter(name: name, template: code) }
            output += value
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }
}
