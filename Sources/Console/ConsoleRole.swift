/// What a console user may do; each role includes the one before it. The database
/// enforces the same split: every role acts through its own database role.
public enum ConsoleRole: String, Sendable, CaseIterable, Comparable {
    /// Sees everything; sensitive job arguments and phone numbers are masked.
    case viewer
    /// Also acts on jobs, queues and cron schedules.
    case `operator`
    /// Also previews and starts payout runs.
    case finance

    /// The database role this console role's connections take at connection start.
    public var databaseRole: String { "cleaning_console_\(rawValue)" }

    /// Arguments and errors are shown unmasked to those who may act on them.
    var seesSensitiveData: Bool { self >= .operator }

    public static func < (left: Self, right: Self) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}
