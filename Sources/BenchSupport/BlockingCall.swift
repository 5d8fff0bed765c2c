import Foundation

/// Runs a blocking system call (waitpid, read) on a thread of its own, so it never
/// occupies one of the few threads of Swift's cooperative pool, and resumes the
/// caller when it returns.
public enum BlockingCall {
    public static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = name
            thread.stackSize = 1 << 18
            thread.start()
        }
    }
}
