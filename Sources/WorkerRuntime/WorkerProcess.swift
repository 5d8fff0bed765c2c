public import JobQueue
import CommandLineInterface
import HTTPServer
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a worker until SIGTERM or SIGINT, then shuts it down gracefully (stop
/// claiming, finish or release running jobs) and returns. A second signal exits at
/// once; the jobs still running then are rescued by their lapsed leases.
public enum WorkerProcess {
    public static func run(_ worker: JobWorker, metricsPort: Int? = nil, metricsHost: String = "127.0.0.1") async throws {
        var server: HTTPServer?
        if let metricsPort {
            do {
                server = try HTTPServer(
                    port: metricsPort, host: metricsHost, handler: MetricsRoute.handler { await worker.metricsText() })
            } catch {
                throw CommandError.failed("cannot serve metrics on port \(metricsPort): \(error); pick a free port")
            }
            server?.start()
        }
        defer { server?.stop() }
        let sources = installSignalHandlers { count in
            if count == 1 {
                worker.shutdown()
            } else {
                CommandRunner.writeError("second signal: exiting now; running jobs will be rescued by lease expiry")
                ProcessExit.now(130)
            }
        }
        try await worker.run()
        sources.forEach { $0.cancel() }
    }

    /// Dispatch signal sources are created here, in nonisolated code, and call back
    /// on a private serial queue.
    private static func installSignalHandlers(_ handler: @escaping @Sendable (Int) -> Void) -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "worker.signals")
        let counter = SignalCounter()
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(counter.increment()) }
            source.resume()
            return source
        }
    }
}

/// Counts signals; only touched from the serial signal queue, hence the lock is
/// for the compiler's benefit and never contended.
private final class SignalCounter: Sendable {
    private let count = Mutex(0)
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }
}
