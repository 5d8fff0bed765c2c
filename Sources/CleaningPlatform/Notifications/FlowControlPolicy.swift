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

    public init(
        verification: [RateLimit.Rule] = [
            RateLimit.Rule(limit: 1, per: .seconds(60)), RateLimit.Rule(limit: 5, per: .seconds(3600)),
            RateLimit.Rule(limit: 10, per: .seconds(86_400)),
        ],
        noticePerTemplate: [RateLimit.Rule] = [RateLimit.Rule(limit: 50, per: .seconds(86_400))],
        marketingPerTemplate: [RateLimit.Rule] = [RateLimit.Rule(limit: 3, per: .seconds(86_400))],
        marketingHours: Range<Int> = 8..<21
    ) {
        self.verification = verification
        self.noticePerTemplate = noticePerTemplate
        self.marketingPerTemplate = marketingPerTemplate
        self.marketingHours = marketingHours
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
