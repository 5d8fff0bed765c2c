#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// User + system CPU time from getrusage: of this process, or of its reaped children.
/// On a machine whose cores the server shares, client CPU per job is CPU the server
/// does not get.
public enum CPUTime {
    #if canImport(Glibc)
    // Glibc imports RUSAGE_* as an enum; getrusage takes its raw Int32.
    private static let selfWho = RUSAGE_SELF.rawValue
    private static let childrenWho = RUSAGE_CHILDREN.rawValue
    #else
    private static let selfWho = RUSAGE_SELF
    private static let childrenWho = RUSAGE_CHILDREN
    #endif

    public static func ofThisProcess() -> Duration { usage(selfWho) }

    /// Of every child reaped so far (worker processes, pgbench), cumulative.
    public static func ofReapedChildren() -> Duration { usage(childrenWho) }

    private static func usage(_ who: Int32) -> Duration {
        var usage = rusage()
        getrusage(who, &usage)
        let microseconds = (Int64(usage.ru_utime.tv_sec) + Int64(usage.ru_stime.tv_sec)) * 1_000_000
            + Int64(usage.ru_utime.tv_usec) + Int64(usage.ru_stime.tv_usec)
        return .microseconds(microseconds)
    }
}
