import CleaningPlatform
import Foundation
import JobQueue
import PostgresClient
import Synchronization
import TestSupport
import XCTest

/// A handler's error that quotes phone numbers (a gateway echoing the recipient) is
/// stored in the job row and logged with every number masked, whatever its form.
final class StoredErrorMaskingTests: XCTestCase {
    private struct EchoingFailure: JobArguments {
        static let kind = "test.echoing_failure"
        var text: String
    }

    private struct GatewayError: Error, CustomStringConvertible {
        var description: String
    }

    func testPhoneNumbersInHandlerErrorsAreMaskedInJobRowsAndLogLines() async throws {
        let fixture = try PlatformFixture()
        let queue = TestDatabase.uniqueName("mask")
        let number = PlatformFixture.phone()
        let digits = Array(number)
        func grouped(_ sizes: [Int], _ separator: String) -> String {
            var parts: [String] = []
            var start = 0
            for size in sizes {
                parts.append(String(digits[start..<start + size]))
                start += size
            }
            return parts.joined(separator: separator)
        }
        let forms = [
            number, "+86\(number)", "+86 \(number)", "0086\(number)", "0086 \(number)", "86\(number)",
            "+86 " + grouped([3, 4, 4], " "), "+86-" + grouped([3, 4, 4], "-"), grouped([3, 8], " "),
            grouped([7, 4], "-"), "0086-" + grouped([3, 4, 4], " "),
        ]
        let failure = "gateway refused: " + forms.map { "recipient \($0) invalid" }.joined(separator: "; ")
        var handlers = JobHandlerRegistry()
        handlers.register(EchoingFailure.self) { arguments, _ in throw GatewayError(description: arguments.text) }
        let lines = Mutex<[String]>([])
        let log = PlatformLog.make(minimumLevel: .debug, sink: { line in lines.withLock { $0.append(line) } })
        let id = try await JobQueueClient(database: fixture.pool).enqueue(
            try JobRequest(EchoingFailure(text: failure), queue: queue, maxAttempts: 1)).id
        let worker = try JobWorker(
            database: fixture.configuration, handlers: handlers,
            configuration: WorkerConfiguration(
                queues: [queue: 1], workerID: TestDatabase.uniqueName("mask"), pollInterval: .milliseconds(100)),
            log: log)
        let running = Task { try await worker.run() }
        let administration = JobAdministration(database: fixture.pool)
        let finished = try await fixture.eventually {
            try await administration.show(id)?.job.state == .discarded
        }
        worker.shutdown()
        try await running.value
        XCTAssertTrue(finished, "the job failed for good")

        let detail = try await administration.show(id)
        let stored = try XCTUnwrap(detail).errors.map(\.error).joined(separator: "\n")
        let logged = lines.withLock { $0.joined(separator: "\n") }
        XCTAssertTrue(stored.contains("gateway refused") && stored.contains("****"), stored)
        XCTAssertTrue(logged.contains("gateway refused") && logged.contains("****"), logged)
        let middle = String(digits[3..<7])
        for (place, text) in [("stored error", stored), ("log", logged)] {
            let digitsOnly = text.filter(\.isNumber)
            XCTAssertFalse(digitsOnly.contains(number), "\(place) holds the number in clear: \(text)")
            for form in forms {
                XCTAssertFalse(text.contains(form), "\(place) holds \(form): \(text)")
            }
            XCTAssertFalse(text.contains(String(digits[0..<3]) + middle), "\(place): \(text)")
        }
        _ = try await administration.delete(id)
    }
}
