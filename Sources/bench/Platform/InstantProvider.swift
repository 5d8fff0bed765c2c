import BenchSupport
import CleaningPlatform
import Synchronization

/// A gateway that accepts every message at once and counts what it was given, by
/// notification id, so the run can check that each message was sent exactly once.
final class InstantProvider: NotificationProvider {
    private let calls = Mutex<[Int64: Int]>([:])
    private let total = Atomic<Int>(0)

    func send(_ message: OutgoingMessage) async throws -> DeliveryResult {
        calls.withLock { $0[message.notificationID, default: 0] += 1 }
        total.add(1, ordering: .relaxed)
        return .delivered(providerMessageID: "bench-\(message.notificationID)")
    }

    /// Messages handed over so far (repeats included).
    var sendCount: Int { total.load(ordering: .relaxed) }

    /// Calls per notification id.
    var callsByNotification: [Int64: Int] { calls.withLock { $0 } }
}
