import CleaningPlatform
import CommandLineInterface
import Foundation
import PostgresClient

/// The connection of a command that counts days, weeks or business hours in the
/// program's zone (`BUSINESS_TIME_ZONE`): refused before the command reads or writes
/// anything when the database counts business hours in another zone — the check
/// `queue-worker` makes when it starts (`BusinessTimeZone.requireAgreement`), whose
/// error says which variable to set. A payout week, a statistics day or a campaign's
/// hours counted in one zone while complaint deadlines count in the other would move
/// money and messages by hours.
enum BusinessZoneConnection {
    static func connect(_ configuration: PostgresConfiguration, countingIn zone: TimeZone) throws -> PostgresConnection {
        let connection = try PostgresConnection.connect(configuration)
        do {
            try BusinessTimeZone.requireAgreement(of: zone, on: connection)
        } catch let disagreement as BusinessTimeZone.Disagreement {
            throw CommandError.failed("\(disagreement)")
        }
        return connection
    }
}
