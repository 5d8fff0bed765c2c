/// Sleeps for an amount of the process's running time. Every clock the system
/// offers keeps going while the process is stopped (SIGSTOP, paused by the OS or a
/// debugger), so a timer of 5 s that spanned a 60 s stop would fire at once on
/// resume and report a timeout for a request the gateway may be answering right
/// then. This sleeps in short ticks and counts no tick longer than
/// `longestCountedTick`: a gap that long means the process was not running.
enum RunningTimeSleep {
    static let tick = Duration.milliseconds(100)
    static let longestCountedTick = Duration.seconds(1)

    static func sleep(for duration: Duration) async throws {
        var counted = Duration.zero
        while counted < duration {
            let step = min(tick, duration - counted)
            let started = ContinuousClock.now
            try await Task.sleep(for: step)
            counted += min(ContinuousClock.now - started, longestCountedTick)
        }
    }
}
