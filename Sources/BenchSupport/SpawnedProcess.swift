import Foundation
#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

/// A child process started with `posix_spawn` (Foundation's `Process` was seen to hang
/// on this platform). Its standard input and output can be pipes to this process;
/// standard error either goes to a file or is shared with this process.
///
/// `Sendable`: it holds only the pid and file descriptor numbers; every operation is
/// a system call on them.
public struct SpawnedProcess: Sendable {
    public enum Stream: Sendable {
        case inherit
        case pipe
        case file(String)
        case null
    }

    public let pid: pid_t
    /// This process's end of the child's standard input, when it is a pipe.
    public let input: Int32?
    /// This process's end of the child's standard output, when it is a pipe.
    public let output: Int32?

    public init(
        executable: String, arguments: [String], environment: [String: String] = [:], standardInput: Stream = .null,
        standardOutput: Stream = .inherit, standardError: Stream = .inherit
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        // Pipes are created close-on-exec: the child gets only the ends dup2'd onto
        // its 0/1 (dup2 clears the flag), no other child inherits any end.
        var parentInput: Int32?
        var parentOutput: Int32?
        var childEnds: [Int32] = []
        defer { childEnds.forEach { close($0) } }
        for (descriptor, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else {
                    throw BenchFailure("cannot create a pipe: \(String(cString: strerror(errno)))")
                }
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                let (childEnd, parentEnd) = descriptor == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds.append(childEnd)
                posix_spawn_file_actions_adddup2(&actions, childEnd, descriptor)
                if descriptor == 0 { parentInput = parentEnd } else { parentOutput = parentEnd }
            }
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = Self.mergedEnvironment(environment).map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // The child starts with no blocked signals and default handlers: this process's
        // threads block some (the Swift runtime, Dispatch), and a child inheriting a
        // blocked SIGALRM never ends (pgbench -T times its run with SIGALRM).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            [parentInput, parentOutput].compactMap { $0 }.forEach { close($0) }
            throw BenchFailure("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        InterruptCleanup.shared.track(child)
        input = parentInput
        output = parentOutput
    }

    /// This process's environment with `overrides` applied, as NAME=value strings.
    private static func mergedEnvironment(_ overrides: [String: String]) -> [String] {
        var merged = ProcessInfo.processInfo.environment
        merged.merge(overrides) { _, new in new }
        return merged.map { "\($0.key)=\($0.value)" }
    }

    public func signal(_ number: Int32) { _ = kill(pid, number) }

    /// Waits for the exit on a thread of its own; returns the exit status, or 128 +
    /// the signal number when the child was killed. The exited child is untracked
    /// before it is reaped (`WNOWAIT` first), so its pid is never signalled once free.
    public func waitForExit() async -> Int32 {
        let pid = pid
        return await BlockingCall.run("wait-\(pid)") {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            InterruptCleanup.shared.untrack(pid)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR { return -1 }
            }
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
    }

    /// Writes `text` to the child's standard input (a pipe).
    public func send(_ text: String) throws {
        guard let input else { throw BenchFailure("the child's standard input is not a pipe") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw BenchFailure("cannot write to child \(pid): \(String(cString: strerror(errno)))")
        }
    }

    /// Closes this process's pipe ends.
    public func closePipes() {
        [input, output].compactMap { $0 }.forEach { close($0) }
    }
}
