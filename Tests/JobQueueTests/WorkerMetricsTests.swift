import Foundation
import HTTPServer
@testable import JobQueue
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A worker's `/metrics` as Prometheus would scrape it.
final class WorkerMetricsTests: XCTestCase {
    /// A plain HTTP GET over a socket (no URLSession: the test checks raw output).
    private func get(port: Int, path: String) throws -> String {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ChildProcessError(message: "connect failed: \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    func testMetricsExposeJobCountsOutcomesAndTimings() async throws {
        let fixture = try QueueFixture()
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { arguments, _ in
            if arguments.number < 0 { throw JobDiscarded("negative") }
        }
        try await fixture.client.enqueue(
            try (0..<5).map { try JobRequest(Payload(number: $0 - 1, label: ""), queue: fixture.queue) })
        let worker = try fixture.worker(handlers)
        let server = try HTTPServer(port: 0, handler: MetricsRoute.handler { await worker.metricsText() })
        server.start()
        defer { server.stop() }
        let text = try await worker.running { () -> String in
            _ = try await fixture.eventually { try await fixture.counts() == ["completed": 4, "discarded": 1] }
            return try get(port: server.port, path: "/metrics")
        }
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        let body = String(text[text.range(of: "\r\n\r\n")!.upperBound...])
        let families = try ExpositionValidator.validate(body)
        XCTAssertGreaterThanOrEqual(families, 7, "a valid exposition with every metric family")
        XCTAssertTrue(body.contains("queue_jobs{queue=\"\(fixture.queue)\",state=\"completed\"} 4"), body)
        XCTAssertTrue(body.contains("queue_worker_jobs_total{kind=\"test.payload\",outcome=\"completed\"} 4"), body)
        XCTAssertTrue(body.contains("queue_worker_jobs_total{kind=\"test.payload\",outcome=\"discarded\"} 1"), body)
        XCTAssertTrue(body.contains("queue_worker_job_duration_seconds_count{kind=\"test.payload\"} 5"), body)
        XCTAssertTrue(body.contains("queue_worker_claim_seconds_bucket{le=\"+Inf\"}"), body)
        XCTAssertTrue(body.contains("queue_database_up 1"), body)

        let bad = try get(port: server.port, path: "/nope")
        XCTAssertTrue(bad.hasPrefix("HTTP/1.1 404"), bad)
    }
    /// A stalled attempt whose job was rescued meanwhile is fenced out, and counted
    /// where it met the fence, so fault-injection runs read it from /metrics.
    func testAnAttemptFencedOutAfterARescueIsCounted() async throws {
        let fixture = try QueueFixture()
        let pool = fixture.pool
        var handlers = JobHandlerRegistry()
        handlers.register(Payload.self) { _, context in
            guard context.job.attempt == 1 else { return }
            // Holds its first attempt until the test has rescued the job, then tries to complete it.
            while try await pool.query(
                "SELECT 1 FROM queue.jobs WHERE id = $1 AND state = 'running'", [context.job.id]).first != nil {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await context.completeInTransaction { _ in }
        }
        let id = try await fixture.client.enqueue(try JobRequest(Payload(number: 1, label: ""), queue: fixture.queue)).id
        // The test rescues the job itself: the worker's own rescuer must not get there
        // first, nor its heartbeat renew the lease between the test's expiry and rescue.
        let worker = try fixture.worker(handlers) {
            $0.rescueInterval = .seconds(3600)
            $0.heartbeatInterval = .seconds(3600)
        }
        let text = try await worker.running { () -> String in
            _ = try await fixture.eventually { try await fixture.row(id).state == "running" }
            _ = try await pool.query(
                "UPDATE queue.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [id])
            // A rescue takes the 1 000 longest-lapsed leases of the whole (shared) test
            // database first: other tests' abandoned claims can fill that batch.
            let rescued = try await fixture.eventually {
                try await JobMaintenance.rescueLapsedLeases(on: pool).contains { $0.id == id }
            }
            let lapsed = try await pool.query(
                "SELECT count(*)::int8 FROM queue.jobs WHERE state = 'running' AND lease_expires_at < now()"
            ).first?.decode(0, as: Int64.self)
            let row = try await fixture.row(id)
            XCTAssertTrue(rescued, "job \(id) not rescued: \(row.state), attempt \(row.attempt); lapsed leases left: \(lapsed ?? -1)")
            var text = ""
            _ = try await fixture.eventually {
                text = await worker.metricsText()
                return text.contains("queue_worker_fenced_outcomes_total{at=\"run\"} 1")
            }
            return text
        }
        XCTAssertTrue(text.contains("queue_worker_fenced_outcomes_total{at=\"run\"} 1"), text)
        XCTAssertTrue(text.contains("queue_worker_fenced_outcomes_total{at=\"write\"} 0"), text)
    }
}
