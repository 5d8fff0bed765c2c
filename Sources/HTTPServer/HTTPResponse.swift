/// One complete response; the server adds `Content-Length` and `Connection: close`.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var contentType: String
    /// Further header lines as name/value pairs, e.g. `("Allow", "GET")`.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(
        status: Int, reason: String, contentType: String = "text/plain; charset=utf-8",
        headers: [(name: String, value: String)] = [], body: [UInt8]
    ) {
        self.status = status
        self.reason = reason
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A short plain-text answer whose body is the status line itself.
    public static func text(_ status: Int, _ reason: String, headers: [(name: String, value: String)] = []) -> Self {
        HTTPResponse(status: status, reason: reason, headers: headers, body: Array("\(status) \(reason)\n".utf8))
    }

    public static func == (left: Self, right: Self) -> Bool {
        left.status == right.status && left.reason == right.reason && left.contentType == right.contentType
            && left.headers.elementsEqual(right.headers) { $0.name == $1.name && $0.value == $1.value }
            && left.body == right.body
    }

    /// The bytes on the wire.
    var bytes: [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        for header in headers { head += "\(header.name): \(header.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
