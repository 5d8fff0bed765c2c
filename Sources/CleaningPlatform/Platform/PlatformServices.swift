public import Foundation
public import JobQueue

/// What the platform's handlers depend on, injected so tests can fix the clock
/// and capture the provider.
public struct PlatformServices: Sendable {
    public var clock: PlatformClock
    public var provider: any NotificationProvider
    public var payouts: any PayoutProvider
    public var flowControl: FlowControlPolicy
    /// Days, months and hours in the business time zone (Asia/Shanghai unless configured).
    public var calendar: BusinessCalendar
    public var timeZone: TimeZone { calendar.timeZone }
    public var log: JobLog

    public init(
        clock: PlatformClock = .system, provider: any NotificationProvider,
        payouts: any PayoutProvider = ConsolePayoutProvider(), flowControl: FlowControlPolicy = FlowControlPolicy(),
        timeZone: TimeZone = BusinessCalendar.default.timeZone, log: JobLog = PlatformLog.make()
    ) {
        self.clock = clock
        self.provider = provider
        self.payouts = payouts
        self.flowControl = flowControl
        self.calendar = BusinessCalendar(timeZone: timeZone)
        self.log = log
    }
}
