/// What the server parsed from a request line: headers are read (and bounded) but not
/// kept, since no endpoint so far needs them.
public struct HTTPRequest: Sendable, Equatable {
    /// The method token as sent, e.g. `GET`.
    public var method: String
    /// The target's path, without the query, e.g. `/metrics`.
    public var path: String
    /// What followed `?` in the target, undecoded; empty when there was none.
    public var query: String

    public init(method: String, path: String, query: String = "") {
        self.method = method
        self.path = path
        self.query = query
    }
}
