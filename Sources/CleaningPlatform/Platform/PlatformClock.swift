public import Foundation

/// Where business rules read "now": the system clock in production, a fixed or
/// stepped clock in tests so time-based rules are checked exactly at their edges.
public struct PlatformClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    public var now: Date { read() }

    public static let system = PlatformClock { Date() }

    public static func fixed(_ date: Date) -> PlatformClock {
        PlatformClock { date }
    }
}
