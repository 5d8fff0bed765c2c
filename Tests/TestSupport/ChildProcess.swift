#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

/// A child process started with `posix_spawn`, for tests that run scripts and
/// worker executables and kill them on purpose.
///
/// Foundation's `Process.waitUntilExit` was seen to hang on Linux when the child
/// left a daemon behind (`pg_ctl start`), so tests use plain `waitpid` instead.
/// `Sendable`: it holds only the pid, and every call is a system call on it.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `executable` with `arguments`; output goes to `outputPath` (appended)
    /// or /dev/null. `environment` entries are added to this process's environment.
    public init(
        executable: String, arguments: [String] = [], environment: [String: String] = [:],
        outputPath: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let target = outputPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, target, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var merged: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                merged[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        merged.merge(environment) { _, new in new }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard status == 0 else {
            throw ChildProcessError(message: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the exit without blocking a cooperative thread for long; returns the
    /// exit status (128 + signal number when killed by a signal).
    public func wait() async -> Int32 {
        while true {
            if let status = reap() { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits at most `timeout`; nil when still running.
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = reap() { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return reap()
    }

    /// Runs a command to completion, blocking the calling thread (for short scripts).
    public static func run(_ executable: String, _ arguments: [String] = []) throws -> Int32 {
        let child = try ChildProcess(executable: executable, arguments: arguments)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        return Self.exitCode(status)
    }

    private func reap() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return Self.exitCode(status) }
        if result < 0 && errno == ECHILD { return -1 }
        return nil
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Polls `condition` until it holds or `timeout` passes: a generous bound for
/// tests that wait on other processes or tasks, never a timing goal (the
/// assertion that follows is on the outcome).
public func eventually(
    timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
