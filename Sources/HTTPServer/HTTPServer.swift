import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the server could not listen.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    /// What was attempted, e.g. `bind 127.0.0.1:9090`.
    public let operation: String
    /// The system's explanation (`strerror` / `gai_strerror`).
    public let reason: String

    public var description: String { "\(operation): \(reason)" }
}

/// A small HTTP/1.x server for operational endpoints (Prometheus scrapes today, the
/// operator console next): each request is answered by `handler`; every response
/// closes the connection.
///
/// Sockets are blocking-free and handled on one dedicated thread, so a slow or
/// hostile client never occupies Swift's cooperative pool; only `handler` runs there
/// (it may query the database). Connections are served one at a time — the
/// endpoints are rare and cheap — and each is bounded by a request size limit and
/// deadlines, so one bad client delays the next by at most a couple of seconds.
public final class HTTPServer: Sendable {
    /// Answers one request; runs on Swift's cooperative pool.
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    /// The bound port (the one the system picked when asked for port 0).
    public let port: Int
    public let host: String
    private let core: Core

    /// Binds and listens at once, so a taken port fails here rather than later.
    public convenience init(port: Int, host: String = "127.0.0.1", handler: @escaping Handler) throws {
        try self.init(port: port, host: host, limits: Limits(), handler: handler)
    }

    /// `maxRequestBytes` bounds the request line, headers and body together (larger
    /// requests are answered 413); `handlerTimeout` bounds one handler (then 503).
    public convenience init(
        port: Int, host: String = "127.0.0.1", maxRequestBytes: Int, handlerTimeout: Duration,
        handler: @escaping Handler
    ) throws {
        var limits = Limits()
        limits.maxRequestBytes = maxRequestBytes
        limits.handlerTimeout = handlerTimeout
        try self.init(port: port, host: host, limits: limits, handler: handler)
    }

    init(port: Int, host: String, limits: Limits, handler: @escaping Handler) throws {
        guard (0...65_535).contains(port) else {
            throw HTTPServerError(operation: "listen \(host):\(port)", reason: "port out of range 0–65535")
        }
        let listener = try Self.openListener(host: host, port: port)
        self.port = listener.port
        self.host = host
        do {
            core = try Core(listenDescriptor: listener.descriptor, limits: limits, handler: handler)
        } catch {
            _ = close(listener.descriptor)
            throw error
        }
    }

    deinit {
        core.stop()
    }

    /// Starts serving on a new thread. Does nothing if already started or stopped.
    public func start() {
        core.start()
    }

    /// Stops accepting, abandons any connection in progress and closes the socket;
    /// returns once the port is released (promptly: the serving thread is woken
    /// through a pipe and checks for stop at least every 50 ms while a handler runs).
    public func stop() {
        core.stop()
    }

    /// Bounds on what one connection may cost.
    struct Limits: Sendable {
        var maxRequestBytes = 8 * 1024
        var requestTimeout: Duration = .seconds(2)
        var writeTimeout: Duration = .seconds(2)
        var handlerTimeout: Duration = .seconds(10)
        /// After answering, unread input is drained this long so closing does not
        /// reset the connection and destroy the response before the client reads it.
        var lingerTimeout: Duration = .milliseconds(250)
    }

    // MARK: - Listening socket

    private static func openListener(host: String, port: Int) throws -> (descriptor: Int32, port: Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamSocketType
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw HTTPServerError(operation: "resolve \(host)", reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var failure = HTTPServerError(operation: "listen \(host):\(port)", reason: "no usable address")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate?.pointee {
            candidate = info.ai_next
            let descriptor = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
            guard descriptor >= 0 else {
                failure = HTTPServerError(operation: "socket", reason: Self.errorText(errno))
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(descriptor, info.ai_addr, info.ai_addrlen) != 0 {
                failure = HTTPServerError(operation: "bind \(host):\(port)", reason: Self.errorText(errno))
            } else if listen(descriptor, 64) != 0 {
                failure = HTTPServerError(operation: "listen \(host):\(port)", reason: Self.errorText(errno))
            } else if let bound = boundPort(descriptor) {
                configure(descriptor)
                return (descriptor, bound)
            } else {
                failure = HTTPServerError(operation: "getsockname", reason: Self.errorText(errno))
            }
            _ = close(descriptor)
        }
        throw failure
    }

    private static func boundPort(_ descriptor: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard status == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
        default:
            return nil
        }
    }

    /// Non-blocking (a connection that vanishes between poll and accept/recv must not
    /// stall the thread), close-on-exec (worker processes spawn children), and on
    /// Darwin no SIGPIPE (Linux passes MSG_NOSIGNAL to each send instead).
    static func configure(_ descriptor: Int32) {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL, 0) | O_NONBLOCK)
        _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD, 0) | FD_CLOEXEC)
        #if canImport(Darwin)
            var one: Int32 = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

#if canImport(Glibc)
    private let streamSocketType = Int32(SOCK_STREAM.rawValue)
    private let sendFlags = Int32(MSG_NOSIGNAL)
#else
    private let streamSocketType = SOCK_STREAM
    private let sendFlags: Int32 = 0
#endif

// MARK: - Serving thread

extension HTTPServer {
    /// Everything the serving thread needs, kept apart from the server object so the
    /// thread does not keep the server alive and `deinit` can stop it.
    final class Core: Sendable {
        private enum State {
            case idle, running, stopping, stopped
        }

        private let listenDescriptor: Int32
        /// stop() writes a byte here; the thread polls the read end next to its
        /// sockets, so it wakes at once instead of on a timer.
        private let wakeRead: Int32
        private let wakeWrite: Int32
        private let limits: Limits
        private let handler: Handler
        private let state = Mutex(State.idle)
        /// Signalled once by the thread after it closed every descriptor.
        private let finished = DispatchSemaphore(value: 0)

        init(listenDescriptor: Int32, limits: Limits, handler: @escaping Handler) throws {
            var pipeEnds: [Int32] = [0, 0]
            guard pipe(&pipeEnds) == 0 else {
                throw HTTPServerError(operation: "pipe", reason: HTTPServer.errorText(errno))
            }
            for end in pipeEnds {
                _ = fcntl(end, F_SETFD, fcntl(end, F_GETFD, 0) | FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL, 0) | O_NONBLOCK)
            }
            self.listenDescriptor = listenDescriptor
            wakeRead = pipeEnds[0]
            wakeWrite = pipeEnds[1]
            self.limits = limits
            self.handler = handler
        }

        func start() {
            state.withLock { state in
                guard case .idle = state else { return }
                state = .running
                let thread = Thread { [self] in run() }
                thread.name = "http-server"
                thread.start()
            }
        }

        func stop() {
            let wait = state.withLock { state -> Bool in
                switch state {
                case .idle:
                    state = .stopped
                    closeDescriptors()
                    return false
                case .running:
                    // Under the lock: the thread closes the pipe only after it has
                    // marked itself stopped, so this write cannot hit a reused descriptor.
                    state = .stopping
                    var byte: UInt8 = 1
                    _ = write(wakeWrite, &byte, 1)
                    return true
                case .stopping:
                    return true
                case .stopped:
                    return false
                }
            }
            if wait {
                finished.wait()
                finished.signal()  // let any other concurrent stop() through as well
            }
        }

        private var isStopping: Bool {
            state.withLock { if case .stopping = $0 { true } else { false } }
        }

        private func closeDescriptors() {
            _ = close(listenDescriptor)
            _ = close(wakeRead)
            _ = close(wakeWrite)
        }

        private func run() {
            defer {
                state.withLock { state in
                    state = .stopped
                    closeDescriptors()
                }
                finished.signal()
            }
            while true {
                var descriptors = [
                    pollfd(fd: listenDescriptor, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&descriptors, nfds_t(descriptors.count), -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return
                }
                if descriptors[1].revents != 0 { return }
                let events = Int32(descriptors[0].revents)
                if events & (POLLERR | POLLNVAL) != 0 { return }
                guard events & POLLIN != 0 else { continue }
                let connection = accept(listenDescriptor, nil, nil)
                if connection < 0 {
                    if errno == EMFILE || errno == ENFILE {
                        // Out of descriptors: back off instead of spinning on poll.
                        if pause(for: .milliseconds(100)) { return }
                    }
                    continue
                }
                HTTPServer.configure(connection)
                serve(connection)
                _ = close(connection)
            }
        }

        // MARK: Connection

        private enum Wait {
            case ready, timedOut, stopping
        }

        /// Waits until `descriptor` has `events`, the deadline passes, or stop() is called.
        private func wait(for descriptor: Int32, events: Int32, until deadline: ContinuousClock.Instant) -> Wait {
            while true {
                let remaining = deadline - .now
                guard remaining > .zero else { return .timedOut }
                var descriptors = [
                    pollfd(fd: descriptor, events: Int16(events), revents: 0),
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&descriptors, nfds_t(descriptors.count), Self.milliseconds(remaining))
                if ready < 0 {
                    if errno == EINTR { continue }
                    return .timedOut
                }
                if descriptors[1].revents != 0 { return .stopping }
                if descriptors[0].revents != 0 { return .ready }
            }
        }

        /// Sleeps unless stop() is called first; returns true if it was.
        private func pause(for duration: Duration) -> Bool {
            var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            return poll(&descriptor, 1, Self.milliseconds(duration)) > 0
        }

        private static func milliseconds(_ duration: Duration) -> Int32 {
            let (seconds, attoseconds) = duration.components
            let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            return Int32(clamping: max(total, 1))
        }

        private enum Request {
            /// The peer closed, or stayed silent past the read timeout, without
            /// sending anything: nothing to answer.
            case empty
            /// Incomplete, too slow, or an unparsable request line or header.
            case malformed
            /// Headers and body together exceed the request size limit.
            case tooLarge
            /// A chunked (or otherwise encoded) body: only `Content-Length` is read.
            case unsupported
            case valid(HTTPRequest)
            /// stop() was called or the connection failed: abandon it.
            case abandoned
        }

        private func serve(_ connection: Int32) {
            let response: [UInt8]
            switch readRequest(connection) {
            case .empty, .abandoned:
                return
            case .malformed:
                response = HTTPResponse.text(400, "Bad Request").bytes
            case .tooLarge:
                response = HTTPResponse.text(413, "Content Too Large").bytes
            case .unsupported:
                response = HTTPResponse.text(501, "Not Implemented").bytes
            case .valid(let request):
                switch respond(to: request) {
                case .some(let answer):
                    response = answer.bytes
                case .none where isStopping:
                    return
                case .none:
                    response = HTTPResponse.text(503, "Service Unavailable").bytes
                }
            }
            guard writeAll(response, to: connection) else { return }
            _ = shutdown(connection, Int32(SHUT_WR))
            linger(connection)
        }

        private func readRequest(_ connection: Int32) -> Request {
            let deadline = ContinuousClock.now + limits.requestTimeout
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let line = Self.firstLine(buffer) {
                    guard let (method, target) = Self.parseRequestLine(line) else { return .malformed }
                    if let end = Self.headerEnd(in: buffer) {
                        guard let headers = Self.parseHeaders(buffer[..<end]) else { return .malformed }
                        if headers["transfer-encoding"] != nil { return .unsupported }
                        let length: Int
                        if let declared = headers["content-length"] {
                            guard declared.count <= 9, let value = Int(declared), value >= 0 else { return .malformed }
                            length = value
                        } else {
                            length = 0
                        }
                        if end + length > limits.maxRequestBytes { return .tooLarge }
                        if buffer.count >= end + length {
                            let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
                            return .valid(
                                HTTPRequest(
                                    method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
                                    headers: headers, body: Array(buffer[end..<(end + length)])))
                        }
                    }
                } else if !Self.canStartRequestLine(buffer) {
                    return .malformed  // binary junk: no need to wait for a line end
                }
                let room = limits.maxRequestBytes - buffer.count
                guard room > 0 else { return Self.headerEnd(in: buffer) == nil ? .malformed : .tooLarge }
                switch wait(for: connection, events: POLLIN, until: deadline) {
                case .stopping: return .abandoned
                // A connection opened ahead of a request and left unused (browsers
                // preconnect) is closed without an answer: a 400 written into it
                // would be read as the answer to the request the browser sends next.
                case .timedOut: return buffer.isEmpty ? .empty : .malformed
                case .ready: break
                }
                let received = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, min(room, $0.count), 0) }
                if received > 0 {
                    buffer += chunk[0..<received]
                } else if received == 0 {
                    return buffer.isEmpty ? .empty : .malformed
                } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return .abandoned
                }
            }
        }

        /// The request line without its terminator, once a line end has arrived.
        private static func firstLine(_ buffer: [UInt8]) -> ArraySlice<UInt8>? {
            guard let newline = buffer.firstIndex(of: 0x0A) else { return nil }
            var line = buffer[..<newline]
            if line.last == 0x0D { line = line.dropLast() }
            return line
        }

        /// A request line holds printable ASCII and spaces only; anything else, before
        /// the line is even complete, is garbage we can refuse at once.
        private static func canStartRequestLine(_ buffer: [UInt8]) -> Bool {
            buffer.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x0D }
        }

        /// Headers end at the first empty line (CRLF CRLF, or bare LF LF from lax clients);
        /// returns the index just past it, where the body starts.
        private static func headerEnd(in buffer: [UInt8]) -> Int? {
            var previousWasNewline = false
            var index = 0
            while index < buffer.count {
                let byte = buffer[index]
                if byte == 0x0A {
                    if previousWasNewline { return index + 1 }
                    previousWasNewline = true
                } else if byte != 0x0D {
                    previousWasNewline = false
                }
                index += 1
            }
            return nil
        }

        /// The header fields after the request line, by lower-cased name; nil when a
        /// line is not `name: value` in visible ASCII (obsolete line folding included).
        private static func parseHeaders(_ head: ArraySlice<UInt8>) -> [String: String]? {
            var headers: [String: String] = [:]
            let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).dropFirst()
            for rawLine in lines {
                var line = rawLine
                if line.last == 0x0D { line = line.dropLast() }
                if line.isEmpty { continue }
                guard line.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x09 }),
                    let colon = line.firstIndex(of: 0x3A), colon > line.startIndex,
                    line.first != 0x20, line.first != 0x09
                else { return nil }
                let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
                guard !name.contains(" ") else { return nil }
                let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
                    .trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
                if let previous = headers[name] {
                    headers[name] = previous + (name == "cookie" ? "; " : ", ") + value
                } else {
                    headers[name] = value
                }
            }
            return headers
        }

        /// `METHOD SP origin-form-target SP HTTP/1.x`, or nil.
        private static func parseRequestLine(_ line: ArraySlice<UInt8>) -> (method: String, target: String)? {
            guard line.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            let method = String(decoding: parts[0], as: UTF8.self)
            let target = String(decoding: parts[1], as: UTF8.self)
            let version = String(decoding: parts[2], as: UTF8.self)
            let tokenSymbols = Set("!#$%&'*+-.^_`|~".utf8)
            let isTokenByte = { (byte: UInt8) in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || tokenSymbols.contains(byte)
            }
            guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte),
                target.hasPrefix("/"),
                version.count == 8, version.hasPrefix("HTTP/1."), version.last?.isNumber == true
            else { return nil }
            return (method, target)
        }

        /// Runs the handler on the cooperative pool and waits for it here, checking for
        /// stop() and the handler deadline every 50 ms. Nil when either intervened.
        private func respond(to request: HTTPRequest) -> HTTPResponse? {
            final class HandlerResult: Sendable {
                let response = Mutex<HTTPResponse?>(nil)
                let done = DispatchSemaphore(value: 0)
            }
            let result = HandlerResult()
            let task = Task { [handler] in
                let response = await handler(request)
                result.response.withLock { $0 = response }
                result.done.signal()
            }
            let deadline = ContinuousClock.now + limits.handlerTimeout
            while true {
                if result.done.wait(timeout: .now() + .milliseconds(50)) == .success {
                    return result.response.withLock { $0 }
                }
                if isStopping || ContinuousClock.now >= deadline {
                    task.cancel()
                    return nil
                }
            }
        }

        private func writeAll(_ bytes: [UInt8], to connection: Int32) -> Bool {
            let deadline = ContinuousClock.now + limits.writeTimeout
            var offset = 0
            while offset < bytes.count {
                let sent = bytes.withUnsafeBytes {
                    send(connection, $0.baseAddress! + offset, $0.count - offset, sendFlags)
                }
                if sent > 0 {
                    offset += sent
                } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    guard case .ready = wait(for: connection, events: POLLOUT, until: deadline) else { return false }
                } else if sent < 0 && errno == EINTR {
                    continue
                } else {
                    return false  // peer gone (EPIPE, ECONNRESET): nothing more to do
                }
            }
            return true
        }

        /// Reads and discards what the client still sends, until it closes or the
        /// linger time or 64 KiB is used up.
        private func linger(_ connection: Int32) {
            let deadline = ContinuousClock.now + limits.lingerTimeout
            var discard = [UInt8](repeating: 0, count: 4096)
            var drained = 0
            while drained < 64 * 1024 {
                guard case .ready = wait(for: connection, events: POLLIN, until: deadline) else { return }
                let received = discard.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if received > 0 {
                    drained += received
                } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    return
                }
            }
        }
    }
}
