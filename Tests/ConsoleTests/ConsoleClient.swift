import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A browser's side of the console, reduced to what the tests check: one request
/// per connection over a plain socket, the session cookie kept between requests,
/// redirects not followed (the tests check them).
struct ConsoleClient {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error {
        var operation: String
    }

    let port: Int
    var cookie: String?
    var acceptLanguage = "en"

    func get(_ path: String, headers: [String: String] = [:]) throws -> Response {
        try send(raw: request("GET", path, headers: headers, body: []))
    }

    func post(_ path: String, form: [(String, String)], headers: [String: String] = [:]) throws -> Response {
        let body = form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        var all = headers
        all["Content-Type"] = all["Content-Type"] ?? "application/x-www-form-urlencoded"
        return try send(raw: request("POST", path, headers: all, body: Array(body.utf8)))
    }

    func request(_ method: String, _ path: String, headers: [String: String], body: [UInt8]) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept-Language: \(acceptLanguage)\r\n"
        if let cookie { head += "Cookie: console_session=\(cookie)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        return Array((head + "\r\n").utf8) + body
    }

    /// Logs in; returns the client holding the session cookie.
    func loggedIn(_ name: String, _ password: String) throws -> ConsoleClient {
        let response = try post("/login", form: [("name", name), ("password", password)])
        guard response.status == 303, let setCookie = response.headers["set-cookie"],
            let value = setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last
        else { throw Failure(operation: "log in as \(name): \(response.status)") }
        var client = self
        client.cookie = String(value)
        return client
    }

    /// The CSRF token the page's forms carry.
    func csrfToken() throws -> String {
        let page = try get("/jobs").body
        guard let range = page.range(of: "name=\"csrf\" value=\"") else { throw Failure(operation: "no CSRF field") }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    func send(raw bytes: [UInt8]) throws -> Response {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(operation: "socket") }
        defer { _ = close(descriptor) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(operation: "connect") }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if sent <= 0 { break }
            offset += sent
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 { received += buffer[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(operation: "no response head in \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
