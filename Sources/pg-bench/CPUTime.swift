import Foundation

/// User plus system CPU time from `getrusage`, for the client CPU each side spends per
/// statement: it shows whether a difference in rate comes from the client's own work.
enum CPUTime {
    // Glibc imports the RUSAGE_* constants as an enum but takes an Int32; Darwin uses Int32 throughout.
    #if canImport(Glibc)
        private static let selfWho = Int32(RUSAGE_SELF.rawValue)
        private static let childrenWho = Int32(RUSAGE_CHILDREN.rawValue)
    #else
        private static let selfWho = RUSAGE_SELF
        private static let childrenWho = RUSAGE_CHILDREN
    #endif

    /// This process (all threads).
    static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(selfWho, &usage)
        return seconds(usage)
    }

    /// Children that have been waited for, such as a finished pgbench.
    static func childrenSeconds() -> Double {
        var usage = rusage()
        getrusage(childrenWho, &usage)
        return seconds(usage)
    }

    private static func seconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
