import Foundation

/// Nanoseconds from `CLOCK_MONOTONIC`: cheap enough (vDSO) to read after every statement.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
