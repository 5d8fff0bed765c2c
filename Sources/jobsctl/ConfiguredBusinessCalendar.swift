import CleaningPlatform
import CommandLineInterface

extension BusinessCalendar {
    /// The business calendar `BUSINESS_TIME_ZONE` configures, or an error that
    /// says how to fix the variable.
    static func configured() throws -> BusinessCalendar {
        do {
            return try BusinessCalendar.fromEnvironment()
        } catch {
            throw CommandError.failed("\(error)")
        }
    }
}
