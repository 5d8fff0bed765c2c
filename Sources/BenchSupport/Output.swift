#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to standard output and standard error. Results go to stdout as
/// whole lines written at once (a parent reading a pipe sees them at once, never stuck
/// in a buffer); progress and logs go to stderr.
public enum Output {
    public static func line(_ text: String) { emit(text + "\n", to: 1) }

    /// A progress line on stderr, stamped with the seconds since the first one.
    public static func log(_ text: String) {
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        emit("bench [\(Format.decimal(seconds, places: 1)) s]: " + text + "\n", to: 2)
    }

    private static let started = ContinuousClock.now

    private static func emit(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
