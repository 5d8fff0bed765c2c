import Foundation

/// Times cross the wire as whole microseconds since 1970 (`int8`), the resolution
/// of `timestamptz`, so arrays of optional times need no special codec.
enum JobTime {
    static func microseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}
