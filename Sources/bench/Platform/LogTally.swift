import BenchSupport
import Foundation
import JobQueue
import Synchronization

/// A log sink for the run: counts lines by message, keeps the fields of the
/// messages asked for, and shows warnings and errors on standard error.
final class LogTally: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let kept = Mutex<[String: [String]]>([:])
    private let keep: Set<String>

    init(keeping messages: Set<String> = []) {
        keep = messages
    }

    /// A JobLog writing here at `level` and above.
    func log(minimumLevel level: JobLog.Level) -> JobLog {
        JobLog(minimumLevel: level, sink: { [self] line in record(line) })
    }

    private func record(_ line: String) {
        let message = Self.message(of: line)
        counts.withLock { $0[message, default: 0] += 1 }
        if keep.contains(message) { kept.withLock { $0[message, default: []].append(line) } }
        if line.contains(" level=warning ") || line.contains(" level=error ") { JobLog.standardError(line) }
    }

    func count(_ message: String) -> Int { counts.withLock { $0[message] ?? 0 } }

    /// Every counted message but the ones named.
    func others(than messages: Set<String>) -> [(String, Int)] {
        counts.withLock { $0.filter { !messages.contains($0.key) }.sorted { $0.key < $1.key } }
    }

    func lines(_ message: String) -> [String] { kept.withLock { $0[message] ?? [] } }

    /// The value of `key=` in a logfmt line (unquoted values only).
    static func field(_ key: String, in line: String) -> String? {
        guard let range = line.range(of: " \(key)=") else { return nil }
        return String(line[range.upperBound...].prefix { $0 != " " })
    }

    /// The msg of a logfmt line, without quotes.
    static func message(of line: String) -> String {
        guard let range = line.range(of: " msg=") else { return "" }
        let rest = line[range.upperBound...]
        if rest.first == "\"" {
            var text = ""
            var escaped = false
            for character in rest.dropFirst() {
                if escaped {
                    text.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    break
                } else {
                    text.append(character)
                }
            }
            return text
        }
        return String(rest.prefix { $0 != " " })
    }
}
