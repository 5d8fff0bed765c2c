public import Foundation

/// The zone the platform's days, weeks and business hours are counted in:
/// `BUSINESS_TIME_ZONE`, Asia/Shanghai when unset.
///
/// A misspelled zone is an error, never a silent fallback: a payout week or a
/// quiet-hours window computed in another zone than the operator meant moves money
/// and messages by hours. Only IANA names (and UTC) are accepted: abbreviations
/// such as CST mean different zones to different readers.
public enum BusinessTimeZone {
    public static let variable = "BUSINESS_TIME_ZONE"
    public static let defaultIdentifier = "Asia/Shanghai"

    public struct Unknown: Error, CustomStringConvertible {
        public var identifier: String
        public var description: String {
            "\(BusinessTimeZone.variable) \"\(identifier)\" is not a time zone; use an IANA name such as Asia/Shanghai"
        }
    }

    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Unknown) -> TimeZone {
        let identifier = environment[variable] ?? defaultIdentifier
        guard TimeZone.knownTimeZoneIdentifiers.contains(identifier) || ["UTC", "Etc/UTC"].contains(identifier),
            let zone = TimeZone(identifier: identifier)
        else { throw Unknown(identifier: identifier) }
        return zone
    }
}
