import CleaningPlatform
import JobQueue
import XCTest

final class ConsoleNotificationProviderTests: XCTestCase {
    func testLogsOneMaskedLineAndDelivers() async throws {
        let capture = LogCapture()
        let provider = ConsoleNotificationProvider(log: capture.log)
        let message = OutgoingMessage(
            notificationID: 42, channel: .sms, recipient: "+8613812345678", templateCode: "booking_confirmed",
            body: "Your cleaner (13987654321) arrives at 9:00.", idempotencyKey: "notification-42")

        let result = try await provider.send(message)

        XCTAssertEqual(result, .delivered(providerMessageID: "console-42"))
        XCTAssertEqual(capture.lines.count, 1)
        let line = try XCTUnwrap(capture.lines.first)
        XCTAssertTrue(line.contains("msg=\"notification sent (console)\""), line)
        XCTAssertTrue(line.contains("recipient=\"+86 138****5678\""), line)
        XCTAssertTrue(line.contains("channel=sms"), line)
        XCTAssertTrue(line.contains("template=booking_confirmed"), line)
        XCTAssertTrue(line.contains("notification_id=42"), line)
        XCTAssertTrue(line.contains("body_length=\(message.body.count)"), line)
        XCTAssertTrue(line.contains("139****4321"), line)
        XCTAssertFalse(line.contains("13812345678"), line)
        XCTAssertFalse(line.contains("12345678"), line)
        XCTAssertFalse(line.contains("13987654321"), line)
    }
}
