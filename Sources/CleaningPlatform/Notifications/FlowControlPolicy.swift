public import Foundation
public import JobQueue

/// Per-recipient sending limits and quiet hours, from configuration. Defaults
/// follow the product rules: verification codes 1/min, 5/hour, 10/day per phone;
/// notices 50/day per template per phone; marketing only 08:00–21:00 local.
public struct FlowControlPolicy: Sendable {
    public var verification: [RateLimit.Rule]
    public var noticePerTemplate: [RateLimit.Rule]
    public var marketingPerTemplate: [RateLimit.Rule]
    /// Local hours in which marketing may be sent: [start, end).
    public var marketingHours: Range<Int>
    /// Messages held back until the same moment (a limit freeing up, quiet hours
    /// ending) wake spread over up to this long after it, not all at once.
    public var maximumWakeSpread: Duration

    public init(
        verification: [RateLimit.Rule] = [
            RateLimit.Rule(limit: 1, per: .seconds(60)), RateLimit.Rule(limit: 5, per: .seconds(3600)),
            RateLimit.Rule(limit: 10, per: .seconds(86_400)),
        ],
        noticePerTemplate: [RateLimit.Rule] = [RateLimit.Rule(limit: 50, per: .seconds(86_400))],
        marketingPerTemplate: [RateLimit.Rule] = [RateLimit.Rule(limit: 3, per: .seconds(86_400))],
        marketingHours: Range<Int> = 8..<21, maximumWakeSpread: Duration = .seconds(300)
    ) {
        self.verification = verification
        self.noticePerTemplate = noticePerTemplate
        self.marketingPerTemplate = marketingPerTemplate
        self.marketingHours = marketingHours
        self.maximumWakeSpread = maximumWakeSpread
    }

    /// When job `jobID`'s message held back until `freeAt` should be tried again:
    /// `freeAt` plus the job's share (`JobJitter` for that moment) of a spread of up to
    /// a fifth of the wait (at least 1 s, at most `maximumWakeSpread`), never past
    /// `latest` (its expiry). Many jobs held by the same limit or the same quiet hours
    /// then wake spread out instead of together.
    public func wakeTime(ofJob jobID: Int64, after freeAt: Date, now: Date, latest: Date) -> Date {
        let wait = max(0, freeAt.timeIntervalSince(now))
        let spread = min(Self.seconds(maximumWakeSpread), max(1, wait / 5), max(0, latest.timeIntervalSince(freeAt)))
        return freeAt.addingTimeInterval(spread * JobJitter(jobID: jobID, moment: freeAt).share)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The limit a message is counted under.
    public func rateLimit(for template: NotificationTemplate, recipient: String) -> RateLimit {
        switch template.category {
        case .verification:
            RateLimit(key: "notify:\(recipient):verification", rules: verification)
        case .notice:
            RateLimit(key: "notify:\(recipient):\(template.code)", rules: noticePerTemplate)
        case .marketing:
            RateLimit(key: "notify:\(recipient):\(template.code)", rules: marketingPerTemplate)
        }
    }

    /// For marketing: nil when `date` is inside the allowed hours of `calendar`
    /// (the recipient's zone), else the next moment they open.
    public func quietUntil(_ date: Date, calendar: BusinessCalendar) -> Date? {
        if marketingHours.contains(calendar.hour(of: date)) { return nil }
        let opening = calendar.moment(hour: marketingHours.lowerBound, onDayOf: date)
        return opening > date ? opening : calendar.moment(hour: marketingHours.lowerBound, onDayOf: calendar.adding(days: 1, to: date))
    }
}
