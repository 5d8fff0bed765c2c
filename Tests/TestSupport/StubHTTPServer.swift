import Dispatch
public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback HTTP/1.1 server for tests of HTTP clients (notification gateways and
/// the like): it records every request and answers through a handler, which can
/// also delay the answer or never give one, to exercise client timeouts.
///
/// Sockets are non-blocking and polled on dedicated threads — one accepting, one
/// per connection — so a deliberately hanging answer never occupies Swift's
/// cooperative pool that the client under test runs on. Every response closes its
/// connection. `stop()` (also run on deinit) wakes every thread through a pipe,
/// waits for them and releases the port.
public final class StubHTTPServer: Sendable {
    /// One request as received; header names are lowercased.
    public struct Request: Sendable, Equatable {
        public var method: String
        /// The request target, query included.
        public var path: String
        public var headers: [String: String]
        public var body: Data

        public init(method: String, path: String, headers: [String: String], body: Data) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }

        /// Case-insensitive header lookup.
        public func header(_ name: String) -> String? { headers[name.lowercased()] }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// What to answer, and when.
    public struct Response: Sendable {
        public var status: Int
        public var body: String
        public var contentType: String
        /// Seconds to wait before answering (a slow or hanging server); the wait ends
        /// early, without an answer, when the client disconnects or the server stops.
        public var delaySeconds: Double

        public init(
            status: Int = 200, body: String = "", delaySeconds: Double = 0,
            contentType: String = "application/json"
        ) {
            self.status = status
            self.body = body
            self.delaySeconds = delaySeconds
            self.contentType = contentType
        }
    }

    public let port: Int
    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    /// Every request received so far, in arrival order (recorded before the
    /// handler runs, so a request still waiting for its answer is included).
    public var requests: [Request] { shared.requests.withLock { $0 } }

    private let shared: Shared

    /// Listens on a free loopback port at once and starts serving. `handler`
    /// returns nil to never answer (until the client gives up or `stop()`).
    public init(handler: @escaping @Sendable (Request) -> Response? = { _ in Response(body: "{}") }) throws {
        let listener = try Socket.listenOnLoopback()
        port = listener.port
        do {
            shared = try Shared(listenDescriptor: listener.descriptor, handler: handler)
        } catch {
            _ = close(listener.descriptor)
            throw error
        }
        shared.startAccepting()
    }

    deinit {
        shared.stop()
    }

    /// Stops accepting, abandons unanswered requests, closes every socket and
    /// returns once all serving threads have ended. Safe to call more than once.
    public func stop() {
        shared.stop()
    }

    /// A loopback port nothing listens on (bound to port 0 and released), for
    /// "connection refused" tests.
    public static func unusedPort() throws -> Int {
        let socket = try Socket.bindLoopback()
        _ = close(socket.descriptor)
        return socket.port
    }
}

/// Why the stub server could not start.
public struct StubHTTPServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

// MARK: - Sockets

extension StubHTTPServer {
    fileprivate enum Socket {
        static func bindLoopback() throws -> (descriptor: Int32, port: Int) {
            let descriptor = socket(AF_INET, streamSocketType, 0)
            guard descriptor >= 0 else { throw failure("socket") }
            var address = sockaddr_in()
            #if canImport(Darwin)
                address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
            #endif
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
                }
            }
            guard bound else {
                let error = failure("bind 127.0.0.1:0")
                _ = close(descriptor)
                throw error
            }
            return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
        }

        static func listenOnLoopback() throws -> (descriptor: Int32, port: Int) {
            let bound = try bindLoopback()
            guard listen(bound.descriptor, 64) == 0 else {
                let error = failure("listen")
                _ = close(bound.descriptor)
                throw error
            }
            configure(bound.descriptor)
            return bound
        }

        /// Non-blocking, close-on-exec, and on Darwin no SIGPIPE (Linux passes
        /// MSG_NOSIGNAL to each send instead).
        static func configure(_ descriptor: Int32) {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL, 0) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD, 0) | FD_CLOEXEC)
            #if canImport(Darwin)
                var one: Int32 = 1
                _ = setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
        }

        static func failure(_ operation: String) -> StubHTTPServerError {
            StubHTTPServerError(description: "\(operation): \(String(cString: strerror(errno)))")
        }
    }
}

#if canImport(Glibc)
    private let streamSocketType = Int32(SOCK_STREAM.rawValue)
    private let sendFlags = Int32(MSG_NOSIGNAL)
#else
    private let streamSocketType = SOCK_STREAM
    private let sendFlags: Int32 = 0
#endif

// MARK: - Serving threads

extension StubHTTPServer {
    /// What the threads share, kept apart from the server object so running
    /// threads do not keep it alive and its deinit can stop them.
    fileprivate final class Shared: Sendable {
        let requests = Mutex<[Request]>([])
        private let handler: @Sendable (Request) -> Response?
        private let listenDescriptor: Int32
        /// stop() writes one byte and never drains it, so the read end stays
        /// readable and every thread polling it wakes.
        private let wakeRead: Int32
        private let wakeWrite: Int32
        private let stopped = Mutex(false)
        /// Entered for each thread before it starts, left when it ends.
        private let threads = DispatchGroup()

        /// Bound on reading one request, so a stuck client cannot hold stop() forever.
        private static let requestTimeout: Duration = .seconds(10)
        private static let maxRequestBytes = 1 << 20

        init(listenDescriptor: Int32, handler: @escaping @Sendable (Request) -> Response?) throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw Socket.failure("pipe") }
            for end in ends { Socket.configure(end) }
            self.listenDescriptor = listenDescriptor
            wakeRead = ends[0]
            wakeWrite = ends[1]
            self.handler = handler
        }

        func startAccepting() {
            spawn(name: "stub-http-accept") { [self] in acceptLoop() }
        }

        func stop() {
            let first = stopped.withLock { stopped -> Bool in
                defer { stopped = true }
                return !stopped
            }
            guard first else {
                threads.wait()
                return
            }
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            threads.wait()
            _ = close(listenDescriptor)
            _ = close(wakeRead)
            _ = close(wakeWrite)
        }

        private func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
            threads.enter()
            let thread = Thread { [threads] in
                body()
                threads.leave()
            }
            thread.name = name
            thread.start()
        }

        private func acceptLoop() {
            while case .ready = wait(for: listenDescriptor, events: POLLIN, until: nil) {
                let connection = accept(listenDescriptor, nil, nil)
                guard connection >= 0 else { continue }
                Socket.configure(connection)
                spawn(name: "stub-http-connection") { [self] in
                    serve(connection)
                    _ = close(connection)
                }
            }
        }

        // MARK: Connection

        private enum Wait {
            case ready, timedOut, stopping
        }

        /// Waits for `events` on `descriptor`, the deadline (nil: none) or stop().
        private func wait(for descriptor: Int32, events: Int32, until deadline: ContinuousClock.Instant?) -> Wait {
            while true {
                var timeout: Int32 = -1
                if let deadline {
                    let remaining = deadline - .now
                    guard remaining > .zero else { return .timedOut }
                    timeout = Int32(clamping: max(1, Int64((remaining / .milliseconds(1)).rounded(.up))))
                }
                var descriptors = [
                    pollfd(fd: descriptor, events: Int16(events), revents: 0),
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return .stopping
                }
                if descriptors[1].revents != 0 { return .stopping }
                if descriptors[0].revents != 0 { return .ready }
            }
        }

        private func serve(_ connection: Int32) {
            guard let request = readRequest(connection) else { return }
            requests.withLock { $0.append(request) }
            guard let response = handler(request) else {
                waitForClientToLeave(connection, until: nil)
                return
            }
            if response.delaySeconds > 0 {
                let deadline = ContinuousClock.now + .milliseconds(Int64((response.delaySeconds * 1000).rounded()))
                guard !waitForClientToLeave(connection, until: deadline) else { return }
            }
            let body = Array(response.body.utf8)
            let head =
                "HTTP/1.1 \(response.status) \(Self.reasonPhrase(response.status))\r\n"
                + "Content-Type: \(response.contentType)\r\n"
                + "Content-Length: \(body.count)\r\n"
                + "Connection: close\r\n\r\n"
            guard writeAll(Array(head.utf8) + body, to: connection) else { return }
            _ = shutdown(connection, Int32(SHUT_WR))
            // Drain briefly so closing does not reset the connection before the
            // client has read the answer.
            waitForClientToLeave(connection, until: .now + .milliseconds(250))
        }

        /// Reads and discards input until the client closes (true), the deadline
        /// passes or stop() is called (false).
        @discardableResult
        private func waitForClientToLeave(_ connection: Int32, until deadline: ContinuousClock.Instant?) -> Bool {
            var discard = [UInt8](repeating: 0, count: 4096)
            while case .ready = wait(for: connection, events: POLLIN, until: deadline) {
                let received = discard.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if received == 0 { return true }
                if received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { return true }
            }
            return false
        }

        /// Head and body (Content-Length or chunked); nil when the client left, sent
        /// garbage, took too long or the server is stopping.
        private func readRequest(_ connection: Int32) -> Request? {
            let deadline = ContinuousClock.now + Self.requestTimeout
            var buffer: [UInt8] = []
            var head: (method: String, path: String, headers: [String: String], bodyStart: Int)?
            var sentContinue = false
            while true {
                if head == nil, let end = Self.headerEnd(buffer) {
                    guard let parsed = Self.parseHead(buffer[..<end]) else { return nil }
                    head = (parsed.method, parsed.path, parsed.headers, end + 4)
                }
                if let head {
                    if !sentContinue, head.headers["expect"]?.lowercased() == "100-continue" {
                        sentContinue = true
                        guard writeAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), to: connection) else { return nil }
                    }
                    switch Self.body(in: buffer[head.bodyStart...], headers: head.headers) {
                    case .complete(let body):
                        return Request(method: head.method, path: head.path, headers: head.headers, body: body)
                    case .invalid:
                        return nil
                    case .incomplete:
                        break
                    }
                }
                guard buffer.count < Self.maxRequestBytes,
                    case .ready = wait(for: connection, events: POLLIN, until: deadline)
                else { return nil }
                var chunk = [UInt8](repeating: 0, count: 16 * 1024)
                let received = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if received > 0 {
                    buffer += chunk[..<received]
                } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    return nil
                }
            }
        }

        private static func headerEnd(_ buffer: [UInt8]) -> Int? {
            guard buffer.count >= 4 else { return nil }
            for index in 0...(buffer.count - 4)
            where buffer[index] == 0x0D && buffer[index + 1] == 0x0A && buffer[index + 2] == 0x0D
                && buffer[index + 3] == 0x0A
            {
                return index
            }
            return nil
        }

        private static func parseHead(
            _ bytes: ArraySlice<UInt8>
        ) -> (method: String, path: String, headers: [String: String])? {
            let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ")
            guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return nil }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return nil }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                headers[name] = headers[name].map { "\($0), \(value)" } ?? value
            }
            return (String(requestLine[0]), String(requestLine[1]), headers)
        }

        private enum Body {
            case complete(Data)
            case incomplete, invalid
        }

        private static func body(in bytes: ArraySlice<UInt8>, headers: [String: String]) -> Body {
            if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                return chunkedBody(bytes)
            }
            guard let lengthText = headers["content-length"] else { return .complete(Data()) }
            guard let length = Int(lengthText), length >= 0 else { return .invalid }
            guard bytes.count >= length else { return .incomplete }
            return .complete(Data(bytes.prefix(length)))
        }

        /// `size CRLF data CRLF` … `0 CRLF CRLF` (no trailers expected from clients under test).
        private static func chunkedBody(_ bytes: ArraySlice<UInt8>) -> Body {
            var body = Data()
            var index = bytes.startIndex
            while true {
                guard let lineEnd = bytes[index...].firstIndex(of: 0x0D), lineEnd + 1 < bytes.endIndex else {
                    return .incomplete
                }
                let sizeText =
                    String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                    .split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    return .invalid
                }
                let dataStart = lineEnd + 2
                guard bytes.endIndex >= dataStart + size + 2 else { return .incomplete }
                if size == 0 { return .complete(body) }
                body.append(contentsOf: bytes[dataStart..<dataStart + size])
                index = dataStart + size + 2
            }
        }

        private func writeAll(_ bytes: [UInt8], to connection: Int32) -> Bool {
            let deadline = ContinuousClock.now + .seconds(5)
            var offset = 0
            while offset < bytes.count {
                let sent = bytes.withUnsafeBytes {
                    send(connection, $0.baseAddress! + offset, $0.count - offset, sendFlags)
                }
                if sent > 0 {
                    offset += sent
                } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    guard case .ready = wait(for: connection, events: POLLOUT, until: deadline) else { return false }
                } else if !(sent < 0 && errno == EINTR) {
                    return false
                }
            }
            return true
        }

        private static func reasonPhrase(_ status: Int) -> String {
            switch status {
            case 200: "OK"
            case 201: "Created"
            case 202: "Accepted"
            case 204: "No Content"
            case 400: "Bad Request"
            case 401: "Unauthorized"
            case 403: "Forbidden"
            case 404: "Not Found"
            case 408: "Request Timeout"
            case 422: "Unprocessable Content"
            case 429: "Too Many Requests"
            case 500: "Internal Server Error"
            case 502: "Bad Gateway"
            case 503: "Service Unavailable"
            case 504: "Gateway Timeout"
            default: "Status"
            }
        }
    }
}
