import CommandLineInterface
import Dispatch
import Synchronization
#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

/// What an interrupted suite (SIGINT, SIGTERM) must not leave behind: its child
/// processes (worker processes, pgbench) and its scratch database. Children are
/// tracked from spawn until just before they are reaped, so a pid that is signalled
/// here is always still this process's unreaped child.
public final class InterruptCleanup: Sendable {
    public static let shared = InterruptCleanup()

    private struct State {
        var children: Set<pid_t> = []
        var database: ScratchDatabase?
        var sources: [any DispatchSourceSignal] = []
    }

    private let state = Mutex(State())

    public func track(_ pid: pid_t) { state.withLock { _ = $0.children.insert(pid) } }
    public func untrack(_ pid: pid_t) { state.withLock { _ = $0.children.remove(pid) } }
    public func track(_ database: ScratchDatabase?) { state.withLock { $0.database = database } }

    /// From now on SIGINT and SIGTERM end the children, drop the database and exit 130.
    public func install() {
        let queue = DispatchQueue(label: "bench.signals")
        // The sources are made inside the lock so they belong to the state that keeps
        // them alive for the rest of the process.
        state.withLock { state in
            state.sources = [SIGINT, SIGTERM].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { [self] in cleanUpAndExit() }
                source.resume()
                return source
            }
        }
    }

    private func cleanUpAndExit() -> Never {
        let (children, database) = state.withLock { ($0.children, $0.database) }
        Output.log("interrupted: stopping \(children.count) child process(es) and dropping the scratch database")
        for pid in children { kill(pid, SIGKILL) }
        for pid in children {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        try? database?.drop()
        ProcessExit.now(130)
    }
}
