public import JobQueue

/// The platform's log: a `JobLog` that masks phone numbers in every line it writes
/// and, given to a `JobWorker`, in every error text the worker stores in a job row —
/// one rule at the one place lines and stored errors pass, instead of at each call
/// that might quote a recipient.
public enum PlatformLog {
    public static func make(
        minimumLevel: JobLog.Level = .info, fields: [(String, String)] = [],
        sink: @escaping @Sendable (String) -> Void = JobLog.standardError
    ) -> JobLog {
        JobLog(minimumLevel: minimumLevel, fields: fields, redact: { PhoneMask.maskAll(in: $0) }, sink: sink)
    }
}
