public import Foundation
public import PostgresClient

extension BusinessTimeZone {
    /// The database's business time zone (`platform.business_hours`) differs from the
    /// programs' (`BUSINESS_TIME_ZONE`).
    public struct Disagreement: Error, CustomStringConvertible {
        public var database: String
        public var programs: String
        public var description: String {
            "platform.business_hours counts business hours in \(database) but \(BusinessTimeZone.variable) is "
                + "\(programs): complaint deadlines would be counted in one zone and payout weeks, statistics "
                + "days and campaign hours in the other. Set \(BusinessTimeZone.variable)=\(database), or change "
                + "the database's zone (UPDATE platform.business_hours SET time_zone = '\(programs)')"
        }
    }

    /// Refuses a process whose business time zone is not the database's: what SQL
    /// decides itself (a complaint's deadlines, filed through `platform.file_complaint`)
    /// counts business hours in `platform.business_hours.time_zone`, everything the
    /// programs decide in `zone`. Zones are compared by name, as both sides were set:
    /// an alias (PRC for Asia/Shanghai) is refused too rather than guessed equal.
    public static func requireAgreement(of zone: TimeZone, with configuration: PostgresConfiguration) throws {
        try requireAgreement(of: zone, on: PostgresConnection.connect(configuration))
    }

    /// The same check on a connection the caller goes on using (`jobsctl`'s commands
    /// that count days or weeks check before they read or write anything).
    public static func requireAgreement(of zone: TimeZone, on connection: PostgresConnection) throws {
        let database = try connection.query("SELECT time_zone FROM platform.business_hours").scalar(String.self)
        guard database == zone.identifier else {
            throw Disagreement(database: database, programs: zone.identifier)
        }
    }
}
