import JobQueue
import Synchronization

/// Collects a `JobLog`'s lines in memory so tests can check what would have been
/// written — above all, that no phone number or secret appears in clear.
final class LogCapture: Sendable {
    private let captured = Mutex<[String]>([])

    var lines: [String] { captured.withLock { $0 } }
    var text: String { lines.joined(separator: "\n") }

    var log: JobLog {
        JobLog(minimumLevel: .debug, sink: { [self] line in captured.withLock { $0.append(line) } })
    }
}
