import CleaningPlatform
import CommandLineInterface
import Foundation

extension PayoutPeriod {
    /// The required `--period` of the payout commands, read as an ISO week in the
    /// business time zone (returned too); one reading so `payouts run` and `payouts
    /// audit` agree.
    static func required(_ arguments: inout Arguments) throws -> (period: PayoutPeriod, zone: TimeZone) {
        let command = arguments.commandName
        guard let text = try arguments.option("--period") else {
            throw CommandError.usage("--period is required, e.g. --period 2026-W47", command: command)
        }
        let zone: TimeZone
        do {
            zone = try BusinessTimeZone.fromEnvironment()
        } catch {
            throw CommandError.failed("\(error)")
        }
        do {
            return (try PayoutPeriod(text, timeZone: zone), zone)
        } catch {
            throw CommandError.usage("--period: \(error)", command: command)
        }
    }
}
