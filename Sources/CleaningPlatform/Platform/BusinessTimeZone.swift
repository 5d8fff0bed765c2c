public import Foundation

/// The zone the platform's days, weeks and business hours are counted in:
/// `BUSINESS_TIME_ZONE`, Asia/Shanghai when unset.
///
/// A misspelled zone is an error, never a silent fallback: a payout week or a
/// quiet-hours window computed in another zone than the operator meant moves money
/// and messages by hours.
public enum BusinessTimeZone {
    public static let variable = "BUSINESS_TIME_ZONE"
    public static let defaultIdentifier = "Asia/Shanghai"

    public struct Unknown: Error, CustomStringConvertible {
        public var identifier: String
        public var description: String {
            "\(BusinessTimeZone.variable) \"\(identifier)\" is not a time zone; use a name such as Asia/Shanghai"
        }
    }

    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Unknown) -> TimeZone {
        let identifier = environment[variable] ?? defaultIdentifier
        guard let zone = TimeZone(identifier: identifier) else { throw Unknown(identifier: identifier) }
        return zone
    }
}
