import Dispatch
import Foundation
import Synchronization
import XCTest

@testable import HTTPServer
import Metrics
import TestSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

final class HTTPServerTests: XCTestCase {
    private static let body = """
        # HELP up Whether the worker is up.
        # TYPE up gauge
        up 1

        """

    private func makeServer(
        limits: HTTPServer.Limits = HTTPServer.Limits(),
        render: @escaping @Sendable () async -> String = { HTTPServerTests.body }
    ) throws -> HTTPServer {
        let server = try HTTPServer(port: 0, host: "127.0.0.1", limits: limits, handler: MetricsRoute.handler(render: render))
        server.start()
        addTeardownBlock { server.stop() }
        return server
    }

    private static func get(_ path: String, port: Int) throws -> RawResponse {
        try RawResponse(RawClient.exchange(port: port, send: Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
    }

    func testServesMetrics() throws {
        let server = try makeServer()
        XCTAssertGreaterThan(server.port, 0, "port 0 reports the port picked")
        let response = try Self.get("/metrics", port: server.port)
        XCTAssertEqual(response.statusLine, "HTTP/1.1 200 OK")
        XCTAssertEqual(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertEqual(response.headers["connection"], "close")
        XCTAssertEqual(response.headers["content-length"], "\(Self.body.utf8.count)")
        XCTAssertEqual(response.body, Self.body)

        let query = try RawResponse(
            RawClient.exchange(port: server.port, send: Array("GET /metrics?x=1 HTTP/1.0\n\n".utf8)))
        XCTAssertEqual(query.statusLine, "HTTP/1.1 200 OK", "query string ignored, bare LF and HTTP/1.0 accepted")
    }

    func testRenderedExpositionPassesTheValidator() throws {
        let server = try makeServer {
            var text = PrometheusText()
            text.counter("jobs_total", help: "All jobs.", value: 12, labels: ["state": "done"])
            var histogram = PrometheusText.Histogram(upperBounds: [0.5, 1])
            histogram.observe(0.7)
            text.histogram("latency_seconds", help: "Latency.", histogram, labels: ["queue": #"a"b\c"#])
            try? await Task.sleep(for: .milliseconds(10))  // render really is async
            return text.render()
        }
        let response = try Self.get("/metrics", port: server.port)
        XCTAssertEqual(response.statusLine, "HTTP/1.1 200 OK")
        XCTAssertEqual(try ExpositionValidator.validate(response.body), 2)
    }

    func testOtherPathIs404AndOtherMethodIs405() throws {
        let server = try makeServer()
        let notFound = try Self.get("/", port: server.port)
        XCTAssertEqual(notFound.statusLine, "HTTP/1.1 404 Not Found")
        XCTAssertEqual(notFound.headers["connection"], "close")
        XCTAssertEqual(try Self.get("/metricsx", port: server.port).statusLine, "HTTP/1.1 404 Not Found")

        for method in ["POST", "HEAD", "DELETE"] {
            let response = try RawResponse(
                RawClient.exchange(port: server.port, send: Array("\(method) /metrics HTTP/1.1\r\n\r\n".utf8)))
            XCTAssertEqual(response.statusLine, "HTTP/1.1 405 Method Not Allowed", method)
            XCTAssertEqual(response.headers["allow"], "GET")
            XCTAssertEqual(response.headers["connection"], "close")
        }
    }

    func testMalformedRequestsGet400AndServingContinues() throws {
        let server = try makeServer()
        let malformed = [
            "GARBAGE\r\n\r\n",
            "GET /metrics\r\n\r\n",
            "GET /metrics HTTP/2.0\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "GET  /metrics HTTP/1.1\r\n\r\n",
            "G(T /metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/1.1\r\n",  // then EOF before the headers end
        ]
        for request in malformed {
            let response = try RawResponse(RawClient.exchange(port: server.port, send: Array(request.utf8)))
            XCTAssertEqual(response.statusLine, "HTTP/1.1 400 Bad Request", request.debugDescription)
            XCTAssertEqual(response.headers["connection"], "close")
        }
        XCTAssertEqual(try Self.get("/metrics", port: server.port).statusLine, "HTTP/1.1 200 OK")
    }

    func testRandomBytesGet400AndServingContinues() throws {
        let server = try makeServer()
        var generator = SplitMix64(seed: 0x5EED)
        for size in [1, 17, 1000, 5000, 20_000, 100_000] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let raw = try RawClient.exchange(port: server.port, send: bytes)
            // A refusal arrives, or (when the server hung up mid-upload) nothing:
            // what matters is no crash, no hang, and service afterwards.
            if !raw.isEmpty {
                XCTAssertEqual(try RawResponse(raw).statusLine, "HTTP/1.1 400 Bad Request", "size \(size)")
            }
            XCTAssertEqual(try Self.get("/metrics", port: server.port).statusLine, "HTTP/1.1 200 OK", "after \(size)")
        }
        // Printable garbage without line ends fills the 8 KiB limit.
        let oversize = try RawResponse(
            RawClient.exchange(
                port: server.port,
                send: Array(("GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000)).utf8)))
        XCTAssertEqual(oversize.statusLine, "HTTP/1.1 400 Bad Request")
        XCTAssertEqual(try Self.get("/metrics", port: server.port).statusLine, "HTTP/1.1 200 OK")
    }

    func testDisconnectingAndSilentClientsDoNotStopService() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeout = .milliseconds(300)
        let server = try makeServer(limits: limits)
        // Half requests, then the client vanishes without reading.
        for partial in ["", "GET /metr", "GET /metrics HTTP/1.1\r\nHost"] {
            try RawClient.connectSendAndClose(port: server.port, send: Array(partial.utf8))
        }
        // A client that sends part of a request and waits is cut off by the read timeout.
        let started = ContinuousClock.now
        let slow = try RawResponse(
            RawClient.exchange(port: server.port, send: Array("GET /metrics HTTP/1.1\r\n".utf8), closeWrite: false))
        XCTAssertEqual(slow.statusLine, "HTTP/1.1 400 Bad Request")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
        // A connection opened ahead of a request (a browser's preconnect) and never
        // used is closed without an answer, which the browser would take for the
        // answer to its next request.
        let unused = try RawClient.exchange(port: server.port, send: [], closeWrite: false)
        XCTAssertEqual(unused, [], "no answer on a silent connection")
        XCTAssertEqual(try Self.get("/metrics", port: server.port).statusLine, "HTTP/1.1 200 OK")
    }

    func testConcurrentClientsAreAllServed() throws {
        let server = try makeServer()
        let port = server.port
        let statuses = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let status = (try? Self.get("/metrics", port: port).statusLine) ?? "failed"
            statuses.value.withLock { $0.append(status) }
        }
        XCTAssertEqual(statuses.value.withLock { $0 }, Array(repeating: "HTTP/1.1 200 OK", count: 16))
    }

    func testStopIsPromptEvenWhileRenderingAndReleasesThePort() throws {
        let server = try metricsServer(port: 0) {
            try? await Task.sleep(for: .seconds(30))
            return "late"
        }
        server.start()
        let port = server.port
        let clientDone = DispatchSemaphore(value: 0)
        let clientResult = Locked<[UInt8]?>(nil)
        Thread.detachNewThread {
            let raw = try? RawClient.exchange(port: port, send: Array("GET /metrics HTTP/1.1\r\n\r\n".utf8))
            clientResult.value.withLock { $0 = raw }
            clientDone.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)  // the request is now waiting for render
        let started = ContinuousClock.now
        server.stop()
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1), "stop() does not wait for render")
        XCTAssertEqual(clientDone.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(clientResult.value.withLock { $0 }, [], "the abandoned connection is closed without a response")
        XCTAssertThrowsError(try RawClient.exchange(port: port, send: []), "nothing listens after stop()")
        server.stop()  // idempotent
        server.start()  // no restart after stop

        // The port is free again: a new server can bind it.
        let again = try metricsServer(port: port) { "" }
        XCTAssertEqual(again.port, port)
        again.stop()
    }

    func testBindingATakenPortFails() throws {
        let server = try makeServer()
        XCTAssertThrowsError(try metricsServer(port: server.port) { "" }) { error in
            XCTAssertTrue("\(error)".hasPrefix("bind 127.0.0.1:\(server.port): "), "\(error)")
        }
        XCTAssertThrowsError(try metricsServer(port: 70_000) { "" })
    }

    func testUnstartedServerReleasesItsPortOnStop() throws {
        let server = try metricsServer(port: 0) { "" }
        let port = server.port
        server.stop()
        let again = try metricsServer(port: port) { "" }
        again.stop()
    }
}

/// A server answering the metrics route with `render`.
private func metricsServer(port: Int, render: @escaping @Sendable () async -> String) throws -> HTTPServer {
    try HTTPServer(port: port, handler: MetricsRoute.handler(render: render))
}

/// A Mutex that escaping closures can share (a Mutex itself cannot be captured).
private final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}

// MARK: - Raw socket client

/// A bare TCP client, so the tests see exactly the bytes the server writes.
private enum RawClient {
    struct Failure: Error {
        let operation: String
        let code: Int32
    }

    /// Connects, sends `bytes` (ignoring send errors: the server may hang up on
    /// garbage early), optionally half-closes, and reads until the server closes.
    static func exchange(port: Int, send bytes: [UInt8], closeWrite: Bool = true) throws -> [UInt8] {
        let descriptor = try connect(port: port)
        defer { _ = close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + offset, $0.count - offset, noSignal) }
            if sent <= 0 { break }
            offset += sent
        }
        if closeWrite { _ = shutdown(descriptor, Int32(SHUT_WR)) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                response += buffer[0..<received]
            } else if received < 0 && errno == EINTR {
                continue
            } else if received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw Failure(operation: "recv timed out", code: errno)
            } else {
                return response  // EOF, or a reset after the server answered
            }
        }
    }

    static func connectSendAndClose(port: Int, send bytes: [UInt8]) throws {
        let descriptor = try connect(port: port)
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, noSignal) }
        _ = close(descriptor)
    }

    private static func connect(port: Int) throws -> Int32 {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(operation: "socket", code: errno) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Darwin)
            var one: Int32 = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                systemConnect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            _ = close(descriptor)
            throw Failure(operation: "connect", code: code)
        }
        return descriptor
    }

    #if canImport(Glibc)
        private static let noSignal = Int32(MSG_NOSIGNAL)
    #else
        private static let noSignal: Int32 = 0
    #endif
}

/// The system `connect`, out of reach of `RawClient.connect(port:)`'s shadow.
private func systemConnect(_ descriptor: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(descriptor, address, length)
}

/// A parsed HTTP response: status line, lowercased header names, body text.
private struct RawResponse {
    let statusLine: String
    let headers: [String: String]
    let body: String

    init(_ bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw RawClient.Failure(operation: "no header end in \(text.debugDescription)", code: 0)
        }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        statusLine = head[0]
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        self.headers = headers
        body = String(text[split.upperBound...])
    }
}

/// Deterministic random bytes, so a failure reproduces.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
