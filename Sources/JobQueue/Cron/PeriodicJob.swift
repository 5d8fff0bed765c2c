import Foundation

/// A job enqueued on a cron schedule, exactly once per fire time however many
/// worker processes run: only the leader schedules, and each tick's job carries
/// the unique key `cron:<name>:<fire time>` held for good, so even two leaders
/// during a handover cannot enqueue a tick twice.
public struct PeriodicJob: Sendable {
    /// What happens to fire times that passed while no scheduler ran (downtime).
    public enum MissedTicks: String, Sendable {
        /// Drop them; run the next tick on time.
        case skip
        /// Run the most recent missed tick once, drop the older ones.
        case catchUpOnce
    }

    public var name: String
    public var schedule: CronSchedule
    /// The job to enqueue at each tick; its `runAt` is set to the fire time.
    public var request: JobRequest
    public var missedTicks: MissedTicks

    public init(name: String, schedule: CronSchedule, request: JobRequest, missedTicks: MissedTicks = .catchUpOnce) {
        self.name = name
        self.schedule = schedule
        self.request = request
        self.missedTicks = missedTicks
    }

    /// A tick later than this after its fire time counts as missed.
    static let onTimeWindow: TimeInterval = 60

    func uniqueKey(for fireTime: Date) -> String {
        "cron:\(name):\(Int64(fireTime.timeIntervalSince1970))"
    }

    /// An operator's "run now" request, enqueued once however many leaders see it.
    func uniqueKey(forRunRequestedAt requested: Date) -> String {
        "cron:\(name):now:\(Int64((requested.timeIntervalSince1970 * 1_000_000).rounded()))"
    }

    /// The fire times to enqueue now, given the first due one, and the next one after `now`.
    func due(from first: Date, now: Date) -> (fire: [Date], skipped: Int, next: Date?) {
        var onTime: [Date] = []
        var latestMissed: Date?
        var missed = 0
        var fireTime: Date? = first
        var steps = 0
        while let time = fireTime, time <= now, steps < 100_000 {
            if now.timeIntervalSince(time) <= Self.onTimeWindow {
                onTime.append(time)
            } else {
                missed += 1
                latestMissed = time
            }
            fireTime = schedule.nextFireTime(after: time)
            steps += 1
        }
        var fire = onTime
        var skipped = missed
        if onTime.isEmpty, missedTicks == .catchUpOnce, let latestMissed {
            fire = [latestMissed]
            skipped -= 1
        }
        let next = fireTime.flatMap { $0 > now ? $0 : schedule.nextFireTime(after: now) }
        return (fire, skipped, next)
    }
}
