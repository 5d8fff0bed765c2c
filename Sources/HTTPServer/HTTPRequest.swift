/// What the server parsed from a request: the request line, the header fields and
/// the body (bounded by the server's request size limit).
public struct HTTPRequest: Sendable, Equatable {
    /// The method token as sent, e.g. `GET`.
    public var method: String
    /// The target's path, without the query, e.g. `/metrics`.
    public var path: String
    /// What followed `?` in the target, undecoded; empty when there was none.
    public var query: String
    /// Header fields by lower-cased name; repeated fields are joined with ", "
    /// (`Cookie` with "; ", as RFC 6265 joins cookie pairs).
    public var headers: [String: String]
    /// The body as sent (`Content-Length` bytes); empty when there was none.
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The value of a header field, by any capitalization of its name.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}
