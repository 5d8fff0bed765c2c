import CleaningPlatform
import Foundation
import JobQueue
import TestSupport
import XCTest

final class HTTPNotificationProviderTests: XCTestCase {
    private static let token = "secret-token-5f1c"

    private func makeProvider(
        _ server: StubHTTPServer, timeout: Duration = .seconds(5), log: JobLog = .silent
    ) -> HTTPNotificationProvider {
        HTTPNotificationProvider(
            endpoint: server.baseURL.appendingPathComponent("v1/messages"), timeout: timeout,
            bearerToken: Self.token, log: log)
    }

    private func message(id: Int64 = 7) -> OutgoingMessage {
        OutgoingMessage(
            notificationID: id, channel: .sms, recipient: "13812345678", templateCode: "booking_reminder",
            body: "Cleaning tomorrow 9:00, questions: 13987654321 / see https://x.example/b",
            idempotencyKey: "notif-\(id)")
    }

    /// Sends and expects a `TransientDeliveryError`; returns it and the time taken.
    private func expectTransient(
        _ provider: HTTPNotificationProvider, file: StaticString = #filePath, line: UInt = #line
    ) async -> (error: TransientDeliveryError?, elapsed: Duration) {
        let started = ContinuousClock.now
        do {
            let result = try await provider.send(message())
            XCTFail("expected TransientDeliveryError, got \(result)", file: file, line: line)
            return (nil, ContinuousClock.now - started)
        } catch let error as TransientDeliveryError {
            return (error, ContinuousClock.now - started)
        } catch {
            XCTFail("expected TransientDeliveryError, got \(error)", file: file, line: line)
            return (nil, ContinuousClock.now - started)
        }
    }

    // MARK: 2xx

    func testSuccessIsDeliveredWithProviderIDAndStableIdempotencyKey() async throws {
        let server = try makeServer { _ in .init(status: 200, body: #"{"id": "gw-8812", "status": "queued"}"#) }
        let capture = LogCapture()
        let provider = makeProvider(server, log: capture.log)

        let first = try await provider.send(message())
        let second = try await provider.send(message())

        XCTAssertEqual(first, .delivered(providerMessageID: "gw-8812"))
        XCTAssertEqual(second, first)
        let requests = server.requests
        XCTAssertEqual(requests.count, 2)
        for request in requests {
            XCTAssertEqual(request.method, "POST")
            XCTAssertEqual(request.path, "/v1/messages")
            XCTAssertEqual(request.header("Content-Type"), "application/json")
            XCTAssertEqual(request.header("Authorization"), "Bearer \(Self.token)")
            XCTAssertEqual(request.header("Idempotency-Key"), "notif-7")
        }
        XCTAssertEqual(requests[0].header("Idempotency-Key"), requests[1].header("Idempotency-Key"))

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: requests[0].body) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["notification_id", "channel", "recipient", "template", "body"])
        XCTAssertEqual(json["notification_id"] as? Int, 7)
        XCTAssertEqual(json["channel"] as? String, "sms")
        XCTAssertEqual(json["recipient"] as? String, "13812345678")
        XCTAssertEqual(json["template"] as? String, "booking_reminder")
        XCTAssertEqual(json["body"] as? String, message().body)

        XCTAssertEqual(capture.lines.count, 2)
        XCTAssertTrue(capture.text.contains("msg=\"notification sent (http)\""), capture.text)
        XCTAssertTrue(capture.text.contains(#"recipient="138****5678""#), capture.text)
        XCTAssertTrue(capture.text.contains("provider_message_id=gw-8812"), capture.text)
        XCTAssertFalse(capture.text.contains("13812345678"), capture.text)
        XCTAssertFalse(capture.text.contains("13987654321"), capture.text)
        XCTAssertFalse(capture.text.contains(Self.token), capture.text)
    }

    func testMessageIDFieldNumericIDAndEmptyBody() async throws {
        let server = try makeServer { request in
            switch request.header("Idempotency-Key") {
            case "notif-1": .init(status: 201, body: #"{"message_id": "m-1"}"#)
            case "notif-2": .init(status: 202, body: #"{"id": 98765}"#)
            default: .init(status: 204, body: "")
            }
        }
        let provider = makeProvider(server)
        let byField = try await provider.send(message(id: 1))
        let numeric = try await provider.send(message(id: 2))
        let empty = try await provider.send(message(id: 3))
        XCTAssertEqual(byField, .delivered(providerMessageID: "m-1"))
        XCTAssertEqual(numeric, .delivered(providerMessageID: "98765"))
        XCTAssertEqual(empty, .delivered(providerMessageID: nil))
    }

    func testNoAuthorizationHeaderWithoutToken() async throws {
        let server = try makeServer { _ in .init(status: 200, body: "{}") }
        let provider = HTTPNotificationProvider(endpoint: server.baseURL, log: .silent)
        _ = try await provider.send(message())
        XCTAssertNil(server.requests.first?.header("Authorization"))
    }

    // MARK: 4xx

    func testClientErrorIsRejectedWithProvidersReasonMasked() async throws {
        let server = try makeServer { _ in
            .init(status: 400, body: #"{"error": "invalid recipient 13812345678", "code": 21211}"#)
        }
        let capture = LogCapture()
        let result = try await makeProvider(server, log: capture.log).send(message())
        XCTAssertEqual(result, .rejected(reason: "HTTP 400: invalid recipient 138****5678"))
        XCTAssertTrue(capture.text.contains("msg=\"notification rejected (http)\""), capture.text)
        XCTAssertFalse(capture.text.contains("13812345678"), capture.text)
    }

    func testRejectionReasonFromMessageFieldOrTruncatedText() async throws {
        let longText = "blocked 13812345678 " + String(repeating: "x", count: 700)
        let server = try makeServer { request in
            request.header("Idempotency-Key") == "notif-1"
                ? .init(status: 422, body: #"{"message": "template not approved"}"#)
                : .init(status: 403, body: longText, contentType: "text/plain")
        }
        let provider = makeProvider(server)
        let byField = try await provider.send(message(id: 1))
        XCTAssertEqual(byField, .rejected(reason: "HTTP 422: template not approved"))

        guard case .rejected(let reason) = try await provider.send(message(id: 2)) else {
            return XCTFail("expected rejection")
        }
        XCTAssertTrue(reason.hasPrefix("HTTP 403: blocked 138****5678 xxx"), reason)
        XCTAssertLessThanOrEqual(reason.count, "HTTP 403: ".count + 501)
        XCTAssertFalse(reason.contains("13812345678"))
    }

    func testTooManyRequestsIsTransient() async throws {
        let server = try makeServer { _ in .init(status: 429, body: #"{"error": "slow down"}"#) }
        let (error, _) = await expectTransient(makeProvider(server))
        XCTAssertEqual(error?.reason, "HTTP 429: slow down")
    }

    // MARK: 5xx and transport failures

    func testServerErrorIsTransient() async throws {
        let server = try makeServer { _ in
            .init(status: 500, body: "upstream 13812345678 down", contentType: "text/plain")
        }
        let capture = LogCapture()
        let (error, _) = await expectTransient(makeProvider(server, log: capture.log))
        XCTAssertEqual(error?.reason, "HTTP 500: upstream 138****5678 down")
        XCTAssertTrue(capture.text.contains("msg=\"notification send failed (http)\""), capture.text)
        XCTAssertFalse(capture.text.contains("13812345678"), capture.text)
    }

    func testHangingServerTimesOutWithinTheTimeout() async throws {
        let server = try makeServer { _ in .init(status: 200, body: "{}", delaySeconds: 10) }
        let (error, elapsed) = await expectTransient(makeProvider(server, timeout: .seconds(1)))
        XCTAssertTrue(error?.reason.contains("timed out") == true, String(describing: error))
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(900))
        XCTAssertLessThan(elapsed, .milliseconds(2500), "took \(elapsed)")
        XCTAssertEqual(server.requests.count, 1, "the request reached the server before it hung")
    }

    func testServerThatNeverAnswersTimesOut() async throws {
        let server = try makeServer { _ in nil }
        // Not a whole number of seconds: Linux's URLSession truncates its own
        // timeouts (0.7 s would time out at once), so the provider must not rely on them.
        let (error, elapsed) = await expectTransient(makeProvider(server, timeout: .milliseconds(700)))
        XCTAssertTrue(error?.reason.contains("timed out") == true, String(describing: error))
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(650), "took \(elapsed)")
        XCTAssertLessThan(elapsed, .milliseconds(2000), "took \(elapsed)")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testConnectionRefusedIsTransient() async throws {
        let port = try StubHTTPServer.unusedPort()
        let provider = HTTPNotificationProvider(
            endpoint: try XCTUnwrap(URL(string: "http://127.0.0.1:\(port)/send")), timeout: .seconds(5),
            log: .silent)
        let (error, elapsed) = await expectTransient(provider)
        XCTAssertTrue(error?.reason.hasPrefix("connection failed") == true, String(describing: error))
        XCTAssertLessThan(elapsed, .seconds(3))
    }

    func testCancellingTheCallerStopsTheRequestPromptly() async throws {
        let server = try makeServer { _ in nil }
        let provider = makeProvider(server, timeout: .seconds(30))
        let started = ContinuousClock.now
        let outgoing = message()
        let task = Task { try await provider.send(outgoing) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        do {
            let result = try await task.value
            XCTFail("expected cancellation, got \(result)")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
    }
}
