import Synchronization

/// Decides which of a queue's claimed attempts runs when: `concurrency` slots and,
/// while the queue's jobs are short, a buffer of up to `prefetch` attempts claimed
/// ahead. A slot that finishes a job takes the next buffered one at once; an idle slot
/// waits parked (`nextAttempt`) and `accept` hands it an attempt directly, from
/// whichever thread claimed it (the listener's, the producer's), so a job starts with
/// one wake-up of the slot's task. Running count, buffer, parked slots, reservations
/// and stop flag are guarded together, so two slots never start the same buffered
/// attempt, an attempt never waits while a slot is idle, and the producer's claims and
/// the listener's (`reserve`, `reserveFreeSlots`) never hold more than `concurrency` +
/// claim-ahead between them.
final class SlotScheduler: Sendable {
    let concurrency: Int
    let prefetch: Int
    private let state = Mutex(State())

    private struct State {
        var running = 0
        var buffered: [LeasedAttempt] = []
        /// Room taken by claims in flight, until their attempts are accepted.
        var reserved = 0
        /// Index of the next buffered attempt (the array is compacted when it drains).
        var next = 0
        /// Idle slots waiting for an attempt (nil: the scheduler stopped, the slot ends).
        var parked: [CheckedContinuation<LeasedAttempt?, Never>] = []
        var stopping = false
        /// Until when running jobs may finish after stopping (nil: not stopping).
        var graceDeadline: ContinuousClock.Instant?
        /// Moving average of recent jobs' run time; nil until one has finished.
        var averageSeconds: Double?

        var bufferedCount: Int { buffered.count - next }

        /// Reserves what is left of `capacity` (the slots, plus the claim-ahead room where
        /// the caller counts it) after running, buffered and already reserved attempts,
        /// at most `batch`; nothing once stopping.
        mutating func reserve(capacity: Int, batch: Int) -> Int {
            guard !stopping else { return 0 }
            let room = min(batch, capacity - running - bufferedCount - reserved)
            guard room > 0 else { return 0 }
            reserved += room
            return room
        }

        mutating func record(seconds: Double) {
            averageSeconds = averageSeconds.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
        }

        mutating func takeBuffered() -> LeasedAttempt? {
            guard !stopping, next < buffered.count else { return nil }
            defer {
                next += 1
                if next == buffered.count {
                    buffered.removeAll(keepingCapacity: true)
                    next = 0
                }
            }
            return buffered[next]
        }
    }

    /// Jobs averaging longer than this are not claimed ahead.
    static let shortJob = 0.05

    init(concurrency: Int, prefetch: Int) {
        self.concurrency = max(1, concurrency)
        self.prefetch = max(0, prefetch)
    }

    /// Reserves room for the producer's next claim, at most `batch`: the free slots plus
    /// the claim-ahead buffer's room, once the buffer is down to half of what it may hold
    /// (0: no claim now). A queue limited across processes counts buffered attempts as
    /// running (their rows are leased), so it claims for free slots only. The caller
    /// hands the reservation back through `accept` or `release`.
    func reserve(limitedAcrossProcesses: Bool, batch: Int) -> Int {
        state.withLock { state in
            let ahead = limitedAcrossProcesses ? 0 : claimAhead(averageSeconds: state.averageSeconds)
            guard state.bufferedCount <= ahead / 2 else { return 0 }
            return state.reserve(capacity: concurrency + ahead, batch: batch)
        }
    }

    /// Reserves the slots that are idle and not promised to a claim in flight, at most
    /// `batch`: what a claim on a notification may take, to start at once (0: none).
    func reserveFreeSlots(batch: Int) -> Int {
        state.withLock { state in
            state.reserve(capacity: concurrency, batch: batch)
        }
    }

    /// Gives back reserved room a claim did not use.
    func release(reservation: Int) {
        state.withLock { $0.reserved -= reservation }
    }

    /// Whether a claim holds reserved room (its attempts are not accepted yet).
    var hasReservations: Bool { state.withLock { $0.reserved > 0 } }

    /// Buffers freshly claimed attempts, ending the `reservation` their claim held, and
    /// hands them to parked slots while slots are free; returns how many started (counted
    /// as running from here). An attempt left buffered while a slot is free is taken by
    /// that slot as it parks.
    @discardableResult
    func accept(_ attempts: [LeasedAttempt], reservation: Int) -> Int {
        let starting = state.withLock { state in
            state.reserved -= reservation
            state.buffered.append(contentsOf: attempts)
            var starting: [(CheckedContinuation<LeasedAttempt?, Never>, LeasedAttempt)] = []
            while state.running < concurrency, !state.parked.isEmpty, let attempt = state.takeBuffered() {
                state.running += 1
                starting.append((state.parked.removeLast(), attempt))
            }
            return starting
        }
        for (slot, attempt) in starting { slot.resume(returning: attempt) }
        return starting.count
    }

    /// An idle slot's wait for its next attempt: a buffered one at once, else the one
    /// `accept` hands it; nil once stopping (the slot ends).
    func nextAttempt() async -> LeasedAttempt? {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> LeasedAttempt?? in
                if let attempt = state.takeBuffered() {
                    state.running += 1
                    return .some(attempt)
                }
                if state.stopping { return .some(nil) }
                state.parked.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// How many slots wait parked for an attempt.
    var parkedCount: Int { state.withLock { $0.parked.count } }

    /// A slot finished a job that ran `seconds`: the buffered attempt it runs next
    /// (nil: the slot goes idle and parks in `nextAttempt`), and whether the buffer ran
    /// low enough to claim more.
    func slotFinished(after seconds: Double) -> (next: LeasedAttempt?, bufferLow: Bool) {
        state.withLock { state in
            state.record(seconds: seconds)
            guard let next = state.takeBuffered() else {
                state.running -= 1
                return (nil, true)
            }
            return (next, state.bufferedCount <= claimAhead(averageSeconds: state.averageSeconds) / 2)
        }
    }

    /// How many to hold beyond the free slots: none until jobs are known to be short.
    private func claimAhead(averageSeconds: Double?) -> Int {
        guard let averageSeconds, averageSeconds < Self.shortJob else { return 0 }
        return prefetch
    }

    /// No more starts from the buffer; parked slots end; running jobs may go on for
    /// `gracePeriod`. A second call can only shorten the grace (a cancelled worker
    /// stops at once).
    func stop(gracePeriod: Duration) {
        let deadline = ContinuousClock.now + gracePeriod
        let parked = state.withLock { state in
            state.stopping = true
            state.graceDeadline = min(state.graceDeadline ?? deadline, deadline)
            defer { state.parked.removeAll() }
            return state.parked
        }
        for slot in parked { slot.resume(returning: nil) }
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// True while jobs run and the grace period given at `stop` has not passed.
    var isWithinGrace: Bool {
        state.withLock { state in
            state.running > 0 && state.graceDeadline.map { ContinuousClock.now < $0 } ?? true
        }
    }

    /// Empties the buffer at shutdown: the attempts claimed ahead that never started.
    func takeUnstarted() -> [LeasedAttempt] {
        state.withLock { state in
            defer {
                state.buffered.removeAll()
                state.next = 0
            }
            return Array(state.buffered[state.next...])
        }
    }
}
