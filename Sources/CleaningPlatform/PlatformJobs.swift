public import JobQueue

/// The platform's job handlers, registered by kind.
public enum PlatformJobs {
    public static func handlers() -> JobHandlerRegistry {
        JobHandlerRegistry()
    }
}
